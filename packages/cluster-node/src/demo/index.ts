// `npm run demo` (Demo.ts, run as a script): a node, a small yum repository and mirrors of it, for a first answer.
// Imports db, node.
export * from "./DemoRepository.ts"
