// The redirector's answers as bytes: request parsing, the mirrorlist and metalink formats, redirects, the answer
// cache. Imports actors/redirector, actors/ipdata.
export * from "./Answer.ts"
export * from "./AnswerCache.ts"
export * from "./RedirectorAnswer.ts"
