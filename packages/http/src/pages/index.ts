// The public pages (docs/pages.md): the mirror list, host status, propagation, access statistics and the map, as
// server-rendered HTML with JSON twins, kept and sent with ETags; their one stylesheet and SVG charts.

export { escapeHtml } from "./Html.ts"
export * from "./PagesRoutes.ts"
