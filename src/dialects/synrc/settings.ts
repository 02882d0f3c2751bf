// SYNRC settings (issue 12): the record layout, what history keeps, the SMS gateway, input and file limits.
import { defineSettings } from '../../config.ts'

export const synrcSettings = defineSettings([
  { key: 'synrc.layout', env: ['HERALD_SYNRC_LAYOUT'], type: 'string', default: 'a', description: 'record layout: a (2023 header, Appendix A) or legacy (layout B, what the Swift and JS clients spoke, §4.2)' },
  { key: 'synrc.retention', env: ['HERALD_SYNRC_RETENTION'], type: 'string', default: 'keep', description: 'keep: history keeps delivered messages; delete-delivered: a message acknowledged by every recipient device leaves history too (§6.6)' },
  { key: 'synrc.smsWebhook', env: ['HERALD_SYNRC_SMS_WEBHOOK'], type: 'string', default: '', description: 'SMS gateway: HTTP POST of {"phone","code","client_id"} per code, retried; empty: the code is logged (development mode only)', secret: true },
  { key: 'synrc.smsCodeTtlMs', env: ['HERALD_SYNRC_SMS_CODE_TTL_MS'], type: 'int', default: 10 * 60_000, description: 'how long an SMS code can be verified' },
  { key: 'synrc.smsAttempts', env: ['HERALD_SYNRC_SMS_ATTEMPTS'], type: 'int', default: 3, description: 'wrong codes before a registration answers attempts_expired (a resend starts over)' },
  { key: 'synrc.maxPayloadBytes', env: ['HERALD_SYNRC_MAX_PAYLOAD_BYTES'], type: 'int', default: 512 * 1024, description: 'largest ETF request (emqttd allowed 64 KiB; file chunks need 256 KiB)' },
  { key: 'synrc.files.dir', env: ['HERALD_SYNRC_FILES_DIR'], type: 'string', default: '', description: 'where uploaded files are stored; empty: synrc-files in the data directory' },
  { key: 'synrc.verifySignatures', env: ['HERALD_SYNRC_VERIFY_SIGNATURES'], type: 'bool', default: false, description: "§8.3: a Message's Desc declaring CMS SignedData (application/pkcs7-signature, application/pkcs7-mime; smime-type=signed-data, multipart/signed) is delivered only when signed by the sender's own certificate (CN = phone) from Herald's CA or HERALD_TLS_CLIENT_CA, valid and not revoked; else invalid_signature. EnvelopedData passes through unread" },
  { key: 'synrc.files.maxBytes', env: ['HERALD_SYNRC_FILES_MAX_BYTES'], type: 'int', default: 100 * 1024 * 1024, description: 'largest uploaded file' },
])
