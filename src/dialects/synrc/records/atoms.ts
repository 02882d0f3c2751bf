// The atoms Herald knows (synrc §2.1: a safe decoder refuses any other): every record name and enum atom of the
// layout's table, plus the atoms the flows of §6 carry in untyped or atom() positions (result codes, services).
import type { FieldType, Table } from './dsl.ts'

export const FLOW_ATOMS: readonly string[] = [
  // §6.1 AUTH results, services ([jwt], [Lang]), the test path's {fake, Phone}, the login reply {'Client', Id}
  'sms_sent', 'jwt_sent', 'jwt', 'call_in_progress', 'session_not_found', 'mismatch_user_data', 'login', 'Client',
  'invalid_sms_code', 'invalid_jwt_code', 'attempts_expired', 'logout', 'cleared', 'invalid_data', 'fake',
  'ua', 'en', 'it',
  // §1.5 INIT handshake: {init, Token}, {'Token', Token}
  'init', 'Token',
  // §6.2 PROFILE results
  'not_authorized', 'email_sent', 'verified', 'wrong_code', 'aws', 'not_found', 'migration',
  // §6.3 ROSTER results
  'roster_not_found', 'nick', 'invalid_nick', 'profile_not_found', 'removed', 'added', 'already_present',
  'contacts_not_found',
  // §6.4 FRIEND results
  'contact_not_found',
  // §7 Index ids {nick, N} and {link, L}
  'link',
  'invalid_signature', // §8.3: a signed Desc whose signer is not the sender
  // §6.12 FTP {event, stop}
  'event', 'stop',
  'true', 'false', 'undefined',
]

function typeAtoms(t: FieldType, into: Set<string>): void {
  switch (t.k) {
    case 'enum': for (const a of t.atoms) into.add(a); break
    case 'list': typeAtoms(t.of, into); break
    case 'tuple': case 'union': for (const m of t.of) typeAtoms(m, into); break
    case 'rec': if (t.names !== '*') for (const n of t.names) into.add(n); break
    default: break
  }
}

/** record names, enum atoms and FLOW_ATOMS of one table */
export function atomsOf(t: Table): Set<string> {
  const atoms = new Set<string>(FLOW_ATOMS)
  for (const def of Object.values(t)) {
    atoms.add(def.name)
    for (const [, , type] of def.fields) typeAtoms(type, atoms)
  }
  return atoms
}
