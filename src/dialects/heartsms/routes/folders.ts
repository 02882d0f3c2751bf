// heartsms §4.2 folders and §5.2 operations 30–32.
import { insertAccount, listRoute, ok, removeRoute, withAccount, type RouteDef } from './common.ts'

const FOLDER = ['id', 'account_id', 'device_id', 'name', 'color', 'color_light', 'color_dark', 'color_accent']
const FIELDS = ['name', 'color:n', 'color_dark:n', 'color_light:n', 'color_accent:n']

const folderEvent = (f: Record<string, any>) => ({
  device_id: f.device_id, name: f.name, color: f.color, color_dark: f.color_dark, color_light: f.color_light, color_accent: f.color_accent,
})

export const folderRoutes: RouteDef[] = [
  listRoute('/folders', 'folders', FOLDER, 'U'),
  {
    method: 'POST', url: '/folders/add', params: { list: { name: 'folders', item: { req: ['device_id:n', ...FIELDS] } } },
    handler: async (p, items, h) => {
      await h.store.insert('folders', await insertAccount(h, p), items)
      return ok(items.map((f) => ['added_folder', folderEvent(f)]))
    },
  },
  removeRoute('/folders/remove/:device_id', 'folders', 'removed_folder'),
  {
    method: 'POST', url: '/folders/update/:device_id', params: { req: ['device_id:n', ...FIELDS] }, handler: (p, _i, h) => withAccount(h, p, async (acc) => {
      const { name, color, color_dark, color_light, color_accent } = p
      await h.store.update('folders', acc, { device_id: p.device_id }, { name, color, color_dark, color_light, color_accent })
      return ok([['updated_folder', folderEvent(p)]])
    }),
  },
]
