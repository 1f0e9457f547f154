// The five endpoints of a registry collection: list (paginated), create, read, update, delete.
import type { Schema } from "effect"
import { HttpApiEndpoint, HttpApiSchema } from "effect/http-api"
import { Conflict, Forbidden, NotFound, Unprocessable } from "../Errors.ts"
import { Page, PageQuery } from "../Fields.ts"

export const Errors = [Forbidden, NotFound, Conflict, Unprocessable]

export const Created = <S extends Schema.Top>(schema: S) => schema.pipe(HttpApiSchema.status(201))

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
    HttpApiEndpoint.get(`list${name}`, path, { query: PageQuery, success: Page(schemas.item), error: Errors }),
    HttpApiEndpoint.post(`create${name}`, path, {
      payload: schemas.create,
      success: Created(schemas.item),
      error: Errors
    }),
    HttpApiEndpoint.get(`get${name}`, `${path}/:${param}`, {
      params,
      success: schemas.item,
      error: Errors
    }),
    HttpApiEndpoint.patch(`update${name}`, `${path}/:${param}`, {
      params,
      payload: schemas.update,
      success: schemas.item,
      error: Errors
    }),
    HttpApiEndpoint.delete(`delete${name}`, `${path}/:${param}`, { params, error: Errors })
  ] as const
}
