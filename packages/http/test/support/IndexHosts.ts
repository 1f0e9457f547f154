// Hosts of a test index (IndexSource rows): one category (id 1), URLs in scheme order, always up to date unless
// `dirs` names the directories the host is up to date on.
export { indexHost as host } from "@mirrormanager/actors/testing"
