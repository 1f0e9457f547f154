// Handler functions for a collection served by an AdminCrud (list, create, get, update, delete).
import type { AdminCrud } from "@mirrormanager/actors/registry"
import type { PageRequest } from "@mirrormanager/domain/registry"
import { asCaller } from "./Principal.ts"

export const crudHandlers = <A, C, U>(crud: AdminCrud<A, C, U>) => ({
  list: ({ query }: { readonly query: PageRequest }) => asCaller((p) => crud.list(p, query)),
  create: ({ payload }: { readonly payload: C }) => asCaller((p) => crud.create(p, payload)),
  get: ({ params }: { readonly params: { readonly id: number } }) => asCaller((p) => crud.get(p, params.id)),
  update: ({ params, payload }: { readonly params: { readonly id: number }; readonly payload: U }) =>
    asCaller((p) => crud.update(p, params.id, payload)),
  remove: ({ params }: { readonly params: { readonly id: number } }) => asCaller((p) => crud.remove(p, params.id))
})
