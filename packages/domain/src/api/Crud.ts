// The five endpoints of a registry collection: list (paginated), create, read, update, delete; and the errors each
// kind of endpoint can answer (the OpenAPI document lists these and no others).
import type { Schema } from "effect"
import { HttpApiEndpoint, HttpApiSchema } from "effect/http-api"
import { Conflict, Forbidden, NotFound, Page, PageQuery, PayloadTooLarge, Unprocessable } from "../registry/index.ts"

/** A read of something only some callers may see: not allowed, or no such id. */
export const ReadErrors = [Forbidden, NotFound] as const

/** A write: not allowed, no such id (or a referenced id missing), a duplicate, a rule of the registry broken. */
export const WriteErrors = [Forbidden, NotFound, Conflict, Unprocessable] as const

/** A write with a JSON body, which may also be over the body limit. */
export const BodyWriteErrors = [...WriteErrors, PayloadTooLarge] as const

export const Created = <S extends Schema.Top>(schema: S) => schema.pipe(HttpApiSchema.status(201))

/**
 * Everyone may list and read such a collection: a list answers no error of its own, a read only "no such id". A
 * collection only some callers may read (users, sites) builds its own list and read endpoints.
 */
export const crudEndpoints = <
  const Name extends string,
  const Path extends `/${string}`,
  Id extends Schema.Top,
  Item extends Schema.Top,
  Create extends Schema.Struct<any>,
  Update extends Schema.Struct<any>,
  const Param extends string = "id"
>(
  name: Name,
  path: Path,
  schemas: { readonly id: Id; readonly item: Item; readonly create: Create; readonly update: Update },
  param: Param = "id" as Param
) => {
  const params = { [param]: schemas.id } as { readonly [K in Param]: Id }
  return [
    HttpApiEndpoint.get(`list${name}`, path, { query: PageQuery, success: Page(schemas.item) }),
    HttpApiEndpoint.post(`create${name}`, path, {
      payload: schemas.create,
      success: Created(schemas.item),
      error: BodyWriteErrors
    }),
    HttpApiEndpoint.get(`get${name}`, `${path}/:${param}`, { params, success: schemas.item, error: NotFound }),
    HttpApiEndpoint.patch(`update${name}`, `${path}/:${param}`, {
      params,
      payload: schemas.update,
      success: schemas.item,
      error: BodyWriteErrors
    }),
    HttpApiEndpoint.delete(`delete${name}`, `${path}/:${param}`, { params, error: WriteErrors })
  ] as const
}
