// The redirector's answers as bytes: the Redirector's decision written out in the mirrorlist and metalink formats,
// as a redirect or an error, and the answer cache; the index feed full nodes serve to redirector nodes. Imports
// actors/redirector.
export * from "./Answer.ts"
export * from "./AnswerCache.ts"
export * from "./IndexFeedRoutes.ts"
export * from "./RedirectorAnswer.ts"
