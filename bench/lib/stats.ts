// Figures for benchmarks: percentiles, medians, number formatting and a plain-text table.

/** The p-th percentile (0–100) of the first `n` values, nearest-rank; NaN when there are none. */
export function percentile(values: Float64Array, n: number, p: number): number {
  if (n === 0) return NaN
  const sorted = values.slice(0, n).sort()
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))
  return sorted[rank]
}

/** percentile() of a plain array */
export function percentileOf(xs: number[], p: number): number {
  return percentile(Float64Array.from(xs), xs.length, p)
}

export function median(xs: number[]): number {
  const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const m = v.length >> 1
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}

export function fmt(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return '-'
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function mb(bytes: number): string {
  return fmt(bytes / (1024 * 1024), 1)
}

/** Columns right-aligned except the first ones named in `left`. */
export function table(header: string[], rows: string[][], left = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => (i < left ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}
