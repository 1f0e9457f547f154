// The report_mirror check-in as the server reads it, and the reply strings the client prints. Imports nothing of ours.
export * from "./Checkin.ts"
