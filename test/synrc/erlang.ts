// Runs a real Erlang VM (OTP 25 from Debian's erlang-base) as a peer for the ETF tests (synrc §2.4; issue 12 "Real
// components"): ONE `erl -noinput` process per test file, spoken to over stdin/stdout with 4-byte length-prefixed
// packets, so a batch of 100,000 terms is 100,000 packets to one VM, not 100,000 VMs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { requireService } from '../helpers.ts'

/** True when `erl` runs here. */
export const erlAvailable: boolean = spawnSync('erl', ['-noshell', '-eval', 'halt().'], { timeout: 20_000 }).status === 0

/** { skip } for node:test: skips without erl, fails under CI=true (test/helpers.ts requireService). */
export const requireErlang = (): { skip: string | false } => requireService(erlAvailable, 'erl (Debian erlang-base)')

// The peer: each request is <<Op, Body/binary>>, each reply <<0, Result/binary>> or <<1, Reason/binary>>.
//  1  Body is ETF: binary_to_term, then <<LenA:32, A, B>> with A = term_to_binary(T), B = with {minor_version,2}
//  2  Body is ETF: binary_to_term(Body, [safe]) is tried; A as in 1 (for differential tests)
//  3  Body is ETF: term_to_binary(binary_to_term(Body), [compressed])
//  4  Body is an Erlang expression ending in '.': its value as in 1
//  5  Body is <<Seed:32, N:32, Depth:8>>: N random terms, each as <<LenA:32, A, LenB:32, B>>
const PEER = String.raw`
-module(herald_etf_peer).
-export([main/0]).

main() ->
    Port = open_port({fd, 0, 1}, [binary, {packet, 4}, eof]),
    loop(Port).

loop(Port) ->
    receive
        {Port, {data, <<Op, Body/binary>>}} ->
            Reply = try <<0, (handle(Op, Body))/binary>>
                    catch C:R -> <<1, (iolist_to_binary(io_lib:format("~p:~p", [C, R])))/binary>> end,
            port_command(Port, Reply),
            loop(Port);
        {Port, eof} -> halt(0)
    end.

both(T) ->
    A = term_to_binary(T),
    <<(byte_size(A)):32, A/binary, (term_to_binary(T, [{minor_version, 2}]))/binary>>.

handle(1, B) -> both(binary_to_term(B));
handle(2, B) -> both(binary_to_term(B, [safe]));
handle(3, B) -> term_to_binary(binary_to_term(B), [compressed]);
handle(4, Src) ->
    {ok, Toks, _} = erl_scan:string(unicode:characters_to_list(Src)),
    {ok, Exprs} = erl_parse:parse_exprs(Toks),
    {value, T, _} = erl_eval:exprs(Exprs, []),
    both(T);
handle(5, <<Seed:32, N:32, Depth>>) ->
    rand:seed(exsss, {Seed, Seed bxor 16#5bd1e995, 42}),
    << <<(byte_size(A)):32, A/binary, (byte_size(B)):32, B/binary>>
       || _ <- lists:seq(1, N),
          T <- [gen(Depth)], A <- [term_to_binary(T)], B <- [term_to_binary(T, [{minor_version, 2}])] >>.

pick(L) -> lists:nth(rand:uniform(length(L)), L).
sign() -> pick([1, -1]).

gen(0) -> leaf();
gen(D) ->
    case rand:uniform(12) of
        7 -> list_to_tuple([gen(D - 1) || _ <- lists:seq(1, rand:uniform(6) - 1)]);
        8 -> [gen(D - 1) || _ <- lists:seq(1, rand:uniform(5))];
        9 -> [gen(D - 1) || _ <- lists:seq(1, rand:uniform(3))] ++ pick([a, 1, <<"t">>, {}, 2.5]);
        10 -> maps:from_list([{gen(D - 1), gen(D - 1)} || _ <- lists:seq(1, rand:uniform(6) - 1)]);
        11 -> case rand:uniform(40) of
                  1 -> maps:from_list([{I, leaf()} || I <- lists:seq(1, 33 + rand:uniform(10))]);
                  2 -> list_to_tuple([leaf() || _ <- lists:seq(1, 256 + rand:uniform(20))]);
                  _ -> {pick(['Message', 'Desc', p2p]), gen(D - 1), gen(D - 1)}
              end;
        _ -> leaf()
    end.

leaf() ->
    case rand:uniform(16) of
        1 -> rand:uniform(256) - 1;
        2 -> rand:uniform(1 bsl 32) - (1 bsl 31) - 1;
        3 -> sign() * rand:uniform(1 bsl 62);
        4 -> sign() * rand:uniform(1 bsl 200);
        5 -> sign() * (1 bsl (2040 + rand:uniform(100)) + rand:uniform(1000));
        6 -> (rand:uniform() - 0.5) * math:pow(10, rand:uniform(600) - 300);
        7 -> pick([0.0, -0.0, 5.0e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.5, 1.0e15, 123456789.125]);
        8 -> case rand:uniform(10) of
                 1 -> list_to_atom([233, 108, 232, 118, 101]);
                 2 -> list_to_atom([16#65E5, 16#672C]);
                 3 -> list_to_atom([16#1F600, $x]);
                 4 -> list_to_atom(lists:duplicate(255, $z));
                 5 -> list_to_atom(lists:duplicate(200, 16#3B1));
                 _ -> pick(['ok', 'Message', '', 'chain', 'a b'])
             end;
        9 -> rand:bytes(rand:uniform(24) - 1);
        10 -> [rand:uniform(256) - 1 || _ <- lists:seq(1, rand:uniform(12))];
        11 -> [rand:uniform(70000) - 1 || _ <- lists:seq(1, rand:uniform(4))];
        12 -> [];
        13 -> pick([{}, <<>>, 1686700000000, -2147483648, 2147483647, 2147483648, -2147483649, 9007199254740993]);
        14 -> case rand:uniform(400) of 1 -> lists:duplicate(65535 + rand:uniform(2), 7); _ -> "hello" end;
        15 -> sign() * (1 bsl 53 + rand:uniform(1000));
        _ -> unicode:characters_to_binary([rand:uniform(16#7FF) || _ <- lists:seq(1, rand:uniform(8))])
    end.
`

export interface Both { otp25: Buffer; minor2: Buffer }

/** One Erlang VM answering requests in order. */
export class ErlangPeer {
  private readonly proc: ChildProcess
  private readonly waiting: { resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = []
  private chunks: Buffer[] = []
  private have = 0
  private want = 4
  private readonly dir: string
  private exited: Error | null = null

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'herald-etf-'))
    const file = join(this.dir, 'herald_etf_peer.erl')
    writeFileSync(file, PEER)
    const boot = `{ok, M, Bin} = compile:file("${file}", [binary, report]), {module, M} = code:load_binary(M, "${file}", Bin), M:main().`
    this.proc = spawn('erl', ['-noinput', '-eval', boot], { stdio: ['pipe', 'pipe', 'inherit'] })
    this.proc.stdout!.on('data', (d: Buffer) => this.onData(d))
    this.proc.on('exit', (code) => {
      this.exited = new Error(`erl exited (${code})`)
      for (const w of this.waiting.splice(0)) w.reject(this.exited)
    })
  }

  private onData(d: Buffer): void {
    // chunks are joined only once a whole packet is there (joining every chunk is quadratic for big replies)
    this.chunks.push(d)
    this.have += d.length
    if (this.have < this.want) return
    let buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)
    let off = 0
    while (buf.length - off >= 4) {
      const n = buf.readUInt32BE(off)
      if (buf.length - off - 4 < n) break
      const packet = buf.subarray(off + 4, off + 4 + n)
      off += 4 + n
      const w = this.waiting.shift()!
      if (packet[0] === 0) w.resolve(packet.subarray(1))
      else w.reject(new Error(`erlang: ${packet.subarray(1).toString()}`))
    }
    buf = buf.subarray(off)
    this.chunks = buf.length ? [buf] : []
    this.have = buf.length
    this.want = buf.length >= 4 ? 4 + buf.readUInt32BE(0) : 4
  }

  /** Sends one request; replies come back in order. */
  request(op: number, body: Uint8Array): Promise<Buffer> {
    if (this.exited) return Promise.reject(this.exited)
    const head = Buffer.allocUnsafe(5)
    head.writeUInt32BE(body.length + 1, 0)
    head[4] = op
    this.proc.stdin!.write(Buffer.concat([head, body]))
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }))
  }

  /** term_to_binary(binary_to_term(etf)) in both atom styles (safe: with [safe]). */
  async reencode(etf: Uint8Array, safe = false): Promise<Both> {
    return splitBoth(await this.request(safe ? 2 : 1, etf))
  }

  /** term_to_binary(binary_to_term(etf), [compressed]) */
  compressed(etf: Uint8Array): Promise<Buffer> {
    return this.request(3, etf)
  }

  /** The value of an Erlang expression (ending in '.') in both atom styles. */
  async evaluate(expr: string): Promise<Both> {
    return splitBoth(await this.request(4, Buffer.from(expr, 'utf8')))
  }

  /** n random terms made by Erlang's rand (seeded), in both atom styles. */
  async generate(seed: number, n: number, depth: number): Promise<Both[]> {
    const body = Buffer.alloc(9)
    body.writeUInt32BE(seed >>> 0, 0)
    body.writeUInt32BE(n, 4)
    body[8] = depth
    const r = await this.request(5, body)
    const out: Both[] = []
    for (let off = 0; off < r.length;) {
      const la = r.readUInt32BE(off)
      const otp25 = r.subarray(off + 4, off + 4 + la)
      off += 4 + la
      const lb = r.readUInt32BE(off)
      out.push({ otp25, minor2: r.subarray(off + 4, off + 4 + lb) })
      off += 4 + lb
    }
    return out
  }

  async close(): Promise<void> {
    if (!this.exited) {
      const done = new Promise((resolve) => this.proc.once('exit', resolve))
      this.proc.stdin!.end()
      await done
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

function splitBoth(r: Buffer): Both {
  const la = r.readUInt32BE(0)
  return { otp25: r.subarray(4, 4 + la), minor2: r.subarray(4 + la) }
}
