// Access statistics (docs/statistics.md): the node's counts of mirrorlist and metalink requests per day by country,
// arch, repository and countme bucket, in memory on the request path (AccessCounts), added to the database every
// minute exactly once (AccessStatisticsFlushLayer) and read for the statistics pages (AccessStatistics). Imports db.
export * from "./AccessCounts.ts"
export * from "./AccessStatistics.ts"
export * from "./AccessStatisticsFlush.ts"
