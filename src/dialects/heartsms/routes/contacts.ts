// heartsms §4.2 contacts and §5.2 operations 10–13.
import { insertAccount, listRoute, ok, withAccount, type RouteDef } from './common.ts'

const CONTACT = ['phone_number', 'name', 'id', 'color', 'color_accent', 'contact_type', 'account_id', 'device_id', 'color_dark', 'color_light']
const SIMPLE = ['phone_number', 'name', 'id', 'color', 'color_accent', 'contact_type', 'id_matcher']
const COLORS = ['color:n', 'color_dark:n', 'color_light:n', 'color_accent:n']

export const contactRoutes: RouteDef[] = [
  listRoute('/contacts', 'contacts', CONTACT, 'U', true),
  listRoute('/contacts/simple', 'contacts', SIMPLE, 'U', true),
  {
    method: 'POST', url: '/contacts/add',
    params: { list: { name: 'contacts', item: { req: ['device_id:n', 'phone_number', 'id_matcher', 'name', ...COLORS, 'contact_type:n'] } } },
    handler: async (p, items, h) => {
      await h.store.insert('contacts', await insertAccount(h, p), items)
      return ok(items.map((c) => ['added_contact', {
        phone_number: c.phone_number, name: c.name, color: c.color, color_dark: c.color_dark, color_light: c.color_light,
        color_accent: c.color_accent, type: c.contact_type,
      }]))
    },
  },
  {
    method: 'POST', url: '/contacts/clear', handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.remove('contacts', acc, {})
      return ok()
    }),
  },
  {
    method: 'POST', url: '/contacts/update_device_id', params: { req: ['device_id:n'], opt: ['phone_number', 'name', ...COLORS], one: true },
    handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      const { phone_number, name, color, color_dark, color_light, color_accent } = p
      const rows = await h.store.update('contacts', acc, { device_id: p.device_id }, { phone_number, name, color, color_dark, color_light, color_accent }, true)
      // heartsms §5.2 #11: published only when a row matched, with the row as it is now
      return ok(rows.slice(0, 1).map((r) => ['updated_contact', {
        phone_number: r.phone_number, name: r.name, color: r.color, color_dark: r.color_dark, color_light: r.color_light,
        color_accent: r.color_accent, type: r.contact_type, device_id: r.device_id,
      }]))
    }),
  },
  {
    method: 'POST', url: '/contacts/remove_device_id', params: { req: ['device_id:n', 'phone_number'] },
    handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      await h.store.remove('contacts', acc, { device_id: p.device_id })
      return ok([['removed_contact', { device_id: p.device_id, phone_number: p.phone_number }]])
    }),
  },
  {
    // heartsms §5.2 #13: internal ids, published as the raw comma list
    method: 'POST', url: '/contacts/remove_ids/:ids', params: { req: ['ids'] }, handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      // each id is cast with Number(): a non-numeric one is NaN, a database error (§2)
      await h.store.removeContactsById(acc, String(p.ids).split(',').map(Number))
      return ok([['removed_contact_by_id', { id: p.ids }]])
    }),
  },
]
