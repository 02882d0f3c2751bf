// FILE (§6.12): the `ftp` record. §5 accepts it from any client; Herald takes it from logged-in devices and sys_
// service accounts only: a reg_ client is nobody yet, so it could not own (and later reference) an upload.
import { DEVICE_OR_SYS, type Module } from '../context.ts'
import { ensureFilesDir, ftp } from './ftp.ts'

export const files: Module = {
  routes: {
    ftp: { accept: DEVICE_OR_SYS, handle: ftp },
  },
  start: (s) => ensureFilesDir(s),
}
