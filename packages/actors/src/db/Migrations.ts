// Versioned schema migrations of the registry, applied on start by PgMigrator (table effect_sql_migrations).
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/** Runs statements one at a time: the extended query protocol takes a single command. */
const runStatements = (statements: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    for (const statement of statements) yield* sql.unsafe(statement)
  })

/** Runs a DDL script of plain statements ended by `;` and a newline (no function bodies). */
const runDdl = (ddl: string) =>
  runStatements(
    ddl
      .split(/;\s*\n/)
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
  )

const registry = runDdl(`
    CREATE TABLE users (
      id serial PRIMARY KEY,
      username text NOT NULL UNIQUE,
      admin boolean NOT NULL DEFAULT false,
      bootstrap boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX users_one_bootstrap ON users (bootstrap) WHERE bootstrap;
    CREATE TABLE api_tokens (
      id serial PRIMARY KEY,
      user_id integer NOT NULL REFERENCES users ON DELETE CASCADE,
      name text NOT NULL DEFAULT '',
      token_sha256 text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz,
      revoked_at timestamptz
    );
    CREATE INDEX api_tokens_user ON api_tokens (user_id);

    CREATE TABLE sites (
      id serial PRIMARY KEY,
      name text NOT NULL UNIQUE,
      password_hash text NOT NULL,
      org_url text,
      private boolean NOT NULL DEFAULT false,
      admin_active boolean NOT NULL DEFAULT true,
      user_active boolean NOT NULL DEFAULT true,
      email_on_add boolean NOT NULL DEFAULT false,
      email_on_drop boolean NOT NULL DEFAULT false,
      created_by text,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE site_admins (
      site_id integer NOT NULL REFERENCES sites ON DELETE CASCADE,
      user_id integer NOT NULL REFERENCES users ON DELETE CASCADE,
      PRIMARY KEY (site_id, user_id)
    );
    CREATE INDEX site_admins_user ON site_admins (user_id);

    CREATE TABLE hosts (
      id serial PRIMARY KEY,
      site_id integer NOT NULL REFERENCES sites ON DELETE CASCADE,
      name text NOT NULL,
      country char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
      bandwidth integer NOT NULL DEFAULT 100 CHECK (bandwidth BETWEEN 1 AND 1000000),
      private boolean NOT NULL DEFAULT false,
      asn bigint CHECK (asn BETWEEN 1 AND 4294967295),
      asn_clients boolean NOT NULL DEFAULT true,
      internet2 boolean NOT NULL DEFAULT false,
      internet2_clients boolean NOT NULL DEFAULT false,
      max_connections integer NOT NULL DEFAULT 1 CHECK (max_connections >= 0),
      admin_active boolean NOT NULL DEFAULT true,
      user_active boolean NOT NULL DEFAULT true,
      comment text,
      robot_email text,
      latitude double precision,
      longitude double precision,
      ipv4 text NOT NULL DEFAULT 'unknown' CHECK (ipv4 IN ('yes', 'no', 'unknown')),
      ipv6 text NOT NULL DEFAULT 'unknown' CHECK (ipv6 IN ('yes', 'no', 'unknown')),
      disabled_by text NOT NULL DEFAULT 'none' CHECK (disabled_by IN ('none', 'user', 'crawler')),
      disable_reason text,
      crawl_failures integer NOT NULL DEFAULT 0,
      last_crawled timestamptz,
      last_crawl_duration double precision,
      last_checked_in timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (site_id, name)
    );

    CREATE TABLE products (
      id serial PRIMARY KEY,
      name text NOT NULL UNIQUE,
      publiclist boolean NOT NULL DEFAULT true
    );
    CREATE TABLE versions (
      id serial PRIMARY KEY,
      product_id integer NOT NULL REFERENCES products ON DELETE CASCADE,
      name text NOT NULL,
      is_test boolean NOT NULL DEFAULT false,
      display boolean NOT NULL DEFAULT true,
      display_name text,
      codename text,
      sort_order integer NOT NULL DEFAULT 0,
      UNIQUE (product_id, name)
    );
    CREATE TABLE arches (
      id serial PRIMARY KEY,
      name text NOT NULL UNIQUE,
      publiclist boolean NOT NULL DEFAULT true,
      primary_arch boolean NOT NULL DEFAULT true
    );
    CREATE TABLE directories (
      id serial PRIMARY KEY,
      name text NOT NULL UNIQUE,
      files jsonb NOT NULL DEFAULT '[]',
      readable boolean NOT NULL DEFAULT true,
      ctime bigint
    );
    CREATE TABLE categories (
      id serial PRIMARY KEY,
      name text NOT NULL UNIQUE,
      product_id integer NOT NULL REFERENCES products,
      topdir_id integer NOT NULL REFERENCES directories,
      master_path text,
      canonical_host text,
      publiclist boolean NOT NULL DEFAULT true,
      admin_only boolean NOT NULL DEFAULT false,
      geo_dns_domain text
    );
    CREATE UNIQUE INDEX categories_name_ci ON categories (lower(name));
    CREATE TABLE category_directories (
      category_id integer NOT NULL REFERENCES categories ON DELETE CASCADE,
      directory_id integer NOT NULL REFERENCES directories ON DELETE CASCADE,
      PRIMARY KEY (category_id, directory_id)
    );
    CREATE INDEX category_directories_directory ON category_directories (directory_id);
    CREATE TABLE repositories (
      id serial PRIMARY KEY,
      name text NOT NULL,
      prefix text,
      category_id integer NOT NULL REFERENCES categories ON DELETE CASCADE,
      version_id integer REFERENCES versions ON DELETE SET NULL,
      arch_id integer NOT NULL REFERENCES arches,
      directory_id integer NOT NULL REFERENCES directories ON DELETE CASCADE,
      disabled boolean NOT NULL DEFAULT false,
      UNIQUE (prefix, arch_id)
    );
    CREATE TABLE repository_redirects (
      id serial PRIMARY KEY,
      from_repo text NOT NULL UNIQUE,
      to_repo text NOT NULL CHECK (to_repo <> from_repo)
    );
    CREATE TABLE file_details (
      id serial PRIMARY KEY,
      directory_id integer NOT NULL REFERENCES directories ON DELETE CASCADE,
      filename text NOT NULL,
      timestamp bigint NOT NULL,
      size bigint NOT NULL,
      md5 text,
      sha1 text,
      sha256 text NOT NULL,
      sha512 text,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX file_details_file ON file_details (directory_id, filename, timestamp DESC);

    CREATE TABLE host_categories (
      id serial PRIMARY KEY,
      host_id integer NOT NULL REFERENCES hosts ON DELETE CASCADE,
      category_id integer NOT NULL REFERENCES categories,
      always_up2date boolean NOT NULL DEFAULT false,
      UNIQUE (host_id, category_id)
    );
    CREATE TABLE host_category_urls (
      id serial PRIMARY KEY,
      host_category_id integer NOT NULL REFERENCES host_categories ON DELETE CASCADE,
      url text NOT NULL UNIQUE,
      private boolean NOT NULL DEFAULT false,
      reachable boolean,
      tls_valid boolean,
      tls_expires_at timestamptz,
      ipv4 boolean,
      ipv6 boolean,
      checked_at timestamptz
    );
    CREATE INDEX host_category_urls_hc ON host_category_urls (host_category_id);
    CREATE TABLE host_category_dirs (
      id serial PRIMARY KEY,
      host_category_id integer NOT NULL REFERENCES host_categories ON DELETE CASCADE,
      directory_id integer NOT NULL REFERENCES directories ON DELETE CASCADE,
      path text NOT NULL CHECK (path !~ '^/' AND path !~ '/$'),
      up2date boolean NOT NULL DEFAULT false,
      verified_by text CHECK (verified_by IN ('crawl', 'checkin')),
      verified_at timestamptz,
      matched text CHECK (matched IN ('newest', 'alternate')),
      UNIQUE (host_category_id, path)
    );
    CREATE INDEX host_category_dirs_directory ON host_category_dirs (directory_id);
    CREATE TABLE host_netblocks (
      id serial PRIMARY KEY,
      host_id integer NOT NULL REFERENCES hosts ON DELETE CASCADE,
      netblock text NOT NULL,
      name text NOT NULL DEFAULT '',
      UNIQUE (host_id, netblock)
    );
    CREATE TABLE host_peer_asns (
      id serial PRIMARY KEY,
      host_id integer NOT NULL REFERENCES hosts ON DELETE CASCADE,
      asn bigint NOT NULL CHECK (asn BETWEEN 1 AND 4294967295),
      name text NOT NULL DEFAULT '',
      UNIQUE (host_id, asn)
    );
    CREATE TABLE host_countries_allowed (
      id serial PRIMARY KEY,
      host_id integer NOT NULL REFERENCES hosts ON DELETE CASCADE,
      country char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
      UNIQUE (host_id, country)
    );

    CREATE TABLE netblock_countries (
      id serial PRIMARY KEY,
      netblock text NOT NULL UNIQUE,
      country char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$')
    );
    CREATE TABLE country_continent_redirects (
      id serial PRIMARY KEY,
      country char(2) NOT NULL UNIQUE CHECK (country ~ '^[A-Z]{2}$'),
      continent char(2) NOT NULL CHECK (continent IN ('AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA'))
    );
    CREATE TABLE embargoed_countries (
      id serial PRIMARY KEY,
      country char(2) NOT NULL UNIQUE CHECK (country ~ '^[A-Z]{2}$')
    );
  `)

/**
 * The master-tree scan (docs/masterscan.md#overview) and the change log that every node's index follows
 * (docs/redirector.md#how-changes-reach-every-node).
 */
const masterScan = runDdl(`
    ALTER TABLE directories ADD COLUMN scan_stamp text;
    CREATE UNIQUE INDEX file_details_identity ON file_details
      (directory_id, filename, timestamp, size, sha256, coalesce(md5, ''), coalesce(sha1, ''), coalesce(sha512, ''));
    CREATE INDEX repositories_directory ON repositories (directory_id);
    ALTER TABLE repositories ADD COLUMN scanned boolean NOT NULL DEFAULT false;
    CREATE TABLE changes (
      seq bigserial PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT now(),
      kind text NOT NULL,
      payload jsonb NOT NULL
    );
    CREATE TABLE master_scans (
      category_id integer PRIMARY KEY REFERENCES categories ON DELETE CASCADE,
      started_at timestamptz NOT NULL,
      finished_at timestamptz NOT NULL,
      summary jsonb NOT NULL
    );
  `)

/**
 * One statement-level trigger per event and table writes a change for every write that affects selection, in the
 * writer's transaction (admin API, scans, check-ins, crawls, even manual SQL), and wakes the followers. Each
 * change carries its transaction id, so a follower asks "what committed since my last snapshot" and misses
 * nothing, however long a writer's transaction ran (docs/redirector.md#how-changes-reach-every-node).
 */
interface ChangeTrigger {
  readonly table: string
  readonly kind: string
  /** The payload, a jsonb expression over `rows` (the transition table); null = nothing to record. */
  readonly payload: string
  readonly events: ReadonlyArray<"INSERT" | "UPDATE" | "DELETE">
  /** Updates count only when one of these columns changed (rows matched by `key`); absent = any update. */
  readonly columns?: ReadonlyArray<string>
  /** The column that tells a row's old and new images apart (default `id`). */
  readonly key?: string
}

const changeTriggers: ReadonlyArray<ChangeTrigger> = [
  {
    table: "sites",
    kind: "hosts",
    payload: `(SELECT jsonb_build_object('hostIds', jsonb_agg(h.id)) FROM hosts h WHERE h.site_id IN (SELECT id FROM rows)
      HAVING count(*) > 0)`,
    events: ["UPDATE"],
    columns: ["private", "admin_active", "user_active"]
  },
  {
    table: "hosts",
    kind: "hosts",
    payload: `(SELECT jsonb_build_object('hostIds', jsonb_agg(DISTINCT id)) FROM rows HAVING count(*) > 0)`,
    events: ["INSERT", "DELETE", "UPDATE"],
    columns: [
      "site_id",
      "country",
      "bandwidth",
      "private",
      "asn",
      "asn_clients",
      "internet2",
      "internet2_clients",
      "admin_active",
      "user_active",
      "ipv4",
      "ipv6"
    ]
  },
  ...["host_netblocks", "host_peer_asns", "host_countries_allowed"].map(
    (table): ChangeTrigger => ({
      table,
      kind: "hosts",
      payload: `(SELECT jsonb_build_object('hostIds', jsonb_agg(DISTINCT host_id)) FROM rows HAVING count(*) > 0)`,
      events: ["INSERT", "DELETE", "UPDATE"]
    })
  ),
  {
    table: "host_categories",
    kind: "hosts",
    payload: `(SELECT jsonb_build_object('hostIds', jsonb_agg(DISTINCT host_id)) FROM rows HAVING count(*) > 0)`,
    events: ["INSERT", "DELETE", "UPDATE"],
    columns: ["host_id", "category_id", "always_up2date"]
  },
  // A child of a deleted host category needs no change of its own: the parent's delete recorded the host.
  ...[
    { table: "host_category_urls", columns: ["host_category_id", "url", "private", "reachable", "tls_valid"] },
    { table: "host_category_dirs", columns: ["host_category_id", "directory_id", "up2date"] }
  ].map(
    ({ table, columns }): ChangeTrigger => ({
      table,
      kind: "hosts",
      payload: `(SELECT jsonb_build_object('hostIds', jsonb_agg(DISTINCT hc.host_id)) FROM rows
      JOIN host_categories hc ON hc.id = rows.host_category_id HAVING count(*) > 0)`,
      events: ["INSERT", "DELETE", "UPDATE"],
      columns
    })
  ),
  {
    table: "directories",
    kind: "directories",
    payload: `(SELECT jsonb_build_object('directoryIds', jsonb_agg(DISTINCT id)) FROM rows HAVING count(*) > 0)`,
    events: ["INSERT", "DELETE"]
  },
  // A renamed directory may be a category's topdir (subpaths of everything below it change): reload all content.
  {
    table: "directories",
    kind: "content",
    payload: `(SELECT '{}'::jsonb FROM rows HAVING count(*) > 0)`,
    events: ["UPDATE"],
    columns: ["name"]
  },
  ...["category_directories", "file_details"].map(
    (table): ChangeTrigger => ({
      table,
      kind: "directories",
      payload: `(SELECT jsonb_build_object('directoryIds', jsonb_agg(DISTINCT directory_id)) FROM rows
      HAVING count(*) > 0)`,
      events: ["INSERT", "DELETE", "UPDATE"]
    })
  ),
  ...["repositories", "repository_redirects"].map(
    (table): ChangeTrigger => ({
      table,
      kind: "repositories",
      payload: `(SELECT '{}'::jsonb FROM rows HAVING count(*) > 0)`,
      events: ["INSERT", "DELETE", "UPDATE"]
    })
  ),
  {
    table: "categories",
    kind: "content",
    payload: `(SELECT '{}'::jsonb FROM rows HAVING count(*) > 0)`,
    events: ["INSERT", "DELETE", "UPDATE"],
    columns: ["name", "topdir_id"]
  },
  {
    table: "arches",
    kind: "content",
    payload: `(SELECT '{}'::jsonb FROM rows HAVING count(*) > 0)`,
    events: ["UPDATE"],
    columns: ["name"]
  },
  ...["netblock_countries", "country_continent_redirects"].map(
    (table): ChangeTrigger => ({
      table,
      kind: "overrides",
      payload: `(SELECT '{}'::jsonb FROM rows HAVING count(*) > 0)`,
      events: ["INSERT", "DELETE", "UPDATE"]
    })
  )
]

/** The trigger functions and triggers of one ChangeTrigger, one per event. */
const changeTriggerDdl = (trigger: ChangeTrigger): ReadonlyArray<string> => {
  const statements: Array<string> = []
  const key = trigger.key ?? "id"
  for (const verb of trigger.events) {
    const name = `mm_changes_${trigger.table}_${verb.toLowerCase()}`
    const referencing =
      verb === "INSERT"
        ? "REFERENCING NEW TABLE AS new_rows"
        : verb === "DELETE"
          ? "REFERENCING OLD TABLE AS old_rows"
          : "REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows"
    // An update counts both images: a row that moved (a host to another site) changes both places.
    const changed =
      trigger.columns === undefined
        ? "true"
        : `(${trigger.columns.map((c) => `n.${c}`).join(", ")}, null) IS DISTINCT FROM (${trigger.columns.map((c) => `o.${c}`).join(", ")}, null)`
    const source =
      verb === "INSERT"
        ? "SELECT * FROM new_rows"
        : verb === "DELETE"
          ? "SELECT * FROM old_rows"
          : trigger.columns === undefined
            ? "SELECT * FROM new_rows UNION ALL SELECT * FROM old_rows"
            : `SELECT n.* FROM new_rows n JOIN old_rows o ON o.${key} = n.${key} WHERE ${changed}
                 UNION ALL SELECT o.* FROM new_rows n JOIN old_rows o ON o.${key} = n.${key} WHERE ${changed}`
    statements.push(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
        DECLARE
          change jsonb;
          seq bigint;
        BEGIN
          WITH rows AS (${source}) SELECT ${trigger.payload} INTO change;
          IF change IS NOT NULL THEN
            INSERT INTO changes (kind, payload) VALUES ('${trigger.kind}', change) RETURNING changes.seq INTO seq;
            PERFORM pg_notify('mm_changes', seq::text);
          END IF;
          RETURN NULL;
        END
        $fn$`)
    statements.push(
      `CREATE TRIGGER ${name} AFTER ${verb} ON ${trigger.table} ${referencing} FOR EACH STATEMENT EXECUTE FUNCTION ${name}()`
    )
  }
  return statements
}

const changeStreamDdl = (): ReadonlyArray<string> => [
  "ALTER TABLE changes ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id()",
  "CREATE INDEX changes_xid ON changes (xid)",
  "CREATE INDEX changes_at ON changes (at)",
  ...changeTriggers.flatMap(changeTriggerDdl)
]

const changeStream = runStatements(changeStreamDdl())

/**
 * Check-ins (docs/checkin.md#server-rules): what a public host claims until a crawl verifies it, and failed logins for
 * the rate limit (kept in the database, so every node counts them).
 */
const checkins = runStatements([
  `CREATE TABLE host_category_claims (
     host_category_id integer PRIMARY KEY REFERENCES host_categories ON DELETE CASCADE,
     paths jsonb NOT NULL,
     reported_at timestamptz NOT NULL,
     verification_due boolean NOT NULL DEFAULT true
   )`,
  `CREATE TABLE checkin_failures (
     id bigserial PRIMARY KEY,
     scope text NOT NULL,
     at timestamptz NOT NULL DEFAULT now()
   )`,
  "CREATE INDEX checkin_failures_scope_at ON checkin_failures (scope, at)",
  "CREATE INDEX checkin_failures_at ON checkin_failures (at)"
])

/** The crawler (docs/crawler.md#limits-and-politeness): a log of each host's last crawls. */
const crawler = runStatements([
  `CREATE TABLE host_crawl_logs (
     id bigserial PRIMARY KEY,
     host_id integer NOT NULL REFERENCES hosts ON DELETE CASCADE,
     started_at timestamptz NOT NULL,
     mode text NOT NULL,
     status text NOT NULL,
     reason text,
     duration_ms double precision NOT NULL,
     requests integer NOT NULL,
     entries jsonb NOT NULL,
     entries_total integer NOT NULL
   )`,
  "CREATE INDEX host_crawl_logs_host ON host_crawl_logs (host_id, started_at DESC)"
])

/**
 * Propagation (docs/crawler.md#propagation): which repomd.xml each crawled repodata directory matched, and per
 * repository and crawl run how many hosts carry the newest, one day, two days old or older. Host events
 * (docs/crawler.md#results): what admins are told (a host switched off by the crawler, repodata gone stale, a
 * certificate about to expire), kept whatever becomes of the host, and an outbox for their delivery to a webhook.
 */
const propagation = runStatements([
  "ALTER TABLE host_category_dirs ADD COLUMN matched_timestamp bigint",
  // What the master listed in the directory when a crawl last found it up to date (md5 of its files), so that a
  // directory unchanged since is not asked again for a while (docs/crawler.md#limits-and-politeness load budget).
  "ALTER TABLE host_category_dirs ADD COLUMN verified_files text",
  // The certificate expiry its admins were last warned of (once per certificate).
  "ALTER TABLE host_category_urls ADD COLUMN tls_expiry_warned timestamptz",
  `CREATE TABLE propagation_stats (
     id bigserial PRIMARY KEY,
     repository_id integer NOT NULL REFERENCES repositories ON DELETE CASCADE,
     run_at timestamptz NOT NULL,
     newest_timestamp bigint NOT NULL,
     same_day integer NOT NULL,
     one_day integer NOT NULL,
     two_day integer NOT NULL,
     older integer NOT NULL,
     no_info integer NOT NULL
   )`,
  "CREATE INDEX propagation_stats_repository ON propagation_stats (repository_id, run_at DESC)",
  "CREATE INDEX propagation_stats_run_at ON propagation_stats (run_at)",
  `CREATE TABLE host_events (
     id bigserial PRIMARY KEY,
     kind text NOT NULL,
     at timestamptz NOT NULL DEFAULT now(),
     site_id integer NOT NULL,
     host_id integer NOT NULL,
     details jsonb NOT NULL,
     delivered_at timestamptz,
     delivery_attempts integer NOT NULL DEFAULT 0,
     next_attempt_at timestamptz,
     delivery_abandoned boolean NOT NULL DEFAULT false
   )`,
  "CREATE INDEX host_events_at ON host_events (at DESC, id DESC)",
  "CREATE INDEX host_events_undelivered ON host_events (id) WHERE delivered_at IS NULL AND NOT delivery_abandoned",
  "CREATE INDEX host_events_site ON host_events (site_id, at DESC)"
])

/**
 * What a host category is up to date on, as one bitset per host category (docs/redirector.md#the-index): each
 * category numbers its directories densely (`category_directories.ordinal`, from a sequence of its own, never reused),
 * and `host_category_up2date.bits` has bit `ordinal` set (byte ordinal / 8, bit ordinal % 8 from the lowest, as
 * PostgreSQL's get_bit) for each directory the host category is up to date on. A full index build reads a few
 * thousand of these rows instead of tens of millions of host-directory rows. `host_category_dirs` keeps what a crawl
 * verified of each directory (when, which repomd.xml), which no longer takes part in selection: its writes record no
 * change.
 */
const upToDateBits = runStatements([
  "ALTER TABLE category_directories ADD COLUMN ordinal integer",
  `CREATE FUNCTION mm_category_ordinal_sequence(category integer) RETURNS text LANGUAGE sql IMMUTABLE
     AS $fn$ SELECT 'category_ordinal_' || category $fn$`,
  `CREATE FUNCTION mm_category_created() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
       EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I MINVALUE 0 START 0', mm_category_ordinal_sequence(NEW.id));
       RETURN NULL;
     END
     $fn$`,
  "CREATE TRIGGER mm_category_created AFTER INSERT ON categories FOR EACH ROW EXECUTE FUNCTION mm_category_created()",
  `CREATE FUNCTION mm_category_deleted() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
       EXECUTE format('DROP SEQUENCE IF EXISTS %I', mm_category_ordinal_sequence(OLD.id));
       RETURN NULL;
     END
     $fn$`,
  "CREATE TRIGGER mm_category_deleted AFTER DELETE ON categories FOR EACH ROW EXECUTE FUNCTION mm_category_deleted()",
  // Every new link of a directory to a category takes the category's next number, whoever writes it.
  `CREATE FUNCTION mm_category_directory_ordinal() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
       NEW.ordinal := nextval(mm_category_ordinal_sequence(NEW.category_id)::regclass);
       RETURN NEW;
     END
     $fn$`,
  `CREATE TRIGGER mm_category_directory_ordinal BEFORE INSERT ON category_directories FOR EACH ROW
     EXECUTE FUNCTION mm_category_directory_ordinal()`,
  // The categories there are: their sequences, their directories numbered in id order.
  `DO $do$
     DECLARE
       c record;
       n integer;
     BEGIN
       FOR c IN SELECT id FROM categories LOOP
         EXECUTE format('CREATE SEQUENCE %I MINVALUE 0 START 0', mm_category_ordinal_sequence(c.id));
         UPDATE category_directories cd SET ordinal = r.n
           FROM (SELECT directory_id, (row_number() OVER (ORDER BY directory_id) - 1)::int AS n
                 FROM category_directories WHERE category_id = c.id) r
           WHERE cd.category_id = c.id AND cd.directory_id = r.directory_id;
         SELECT count(*) INTO n FROM category_directories WHERE category_id = c.id;
         IF n > 0 THEN PERFORM setval(mm_category_ordinal_sequence(c.id)::regclass, n, false); END IF;
       END LOOP;
     END
     $do$`,
  "ALTER TABLE category_directories ALTER COLUMN ordinal SET NOT NULL",
  "CREATE UNIQUE INDEX category_directories_ordinal ON category_directories (category_id, ordinal)",
  // A bitset of the given ordinals (no trailing zero byte; the empty set is '\\x').
  `CREATE FUNCTION mm_bits_of(ordinals integer[]) RETURNS bytea LANGUAGE sql IMMUTABLE AS $fn$
     SELECT coalesce((
       SELECT decode(string_agg(lpad(to_hex(coalesce(b.v, 0)), 2, '0'), '' ORDER BY g.i), 'hex')
       FROM generate_series(0, (SELECT max(o) FROM unnest(ordinals) o) / 8) g(i)
       LEFT JOIN (SELECT o / 8 AS i, sum(DISTINCT 1 << (o % 8))::int AS v FROM unnest(ordinals) o GROUP BY o / 8) b
         ON b.i = g.i), '\\x'::bytea)
     $fn$`,
  `CREATE TABLE host_category_up2date (
     host_category_id integer PRIMARY KEY REFERENCES host_categories ON DELETE CASCADE,
     bits bytea NOT NULL DEFAULT '\\x',
     changed_at timestamptz NOT NULL DEFAULT now()
   )`,
  `INSERT INTO host_category_up2date (host_category_id, bits)
     SELECT d.host_category_id, mm_bits_of(array_agg(cd.ordinal))
     FROM host_category_dirs d JOIN host_categories hc ON hc.id = d.host_category_id
     JOIN category_directories cd ON cd.category_id = hc.category_id AND cd.directory_id = d.directory_id
     WHERE d.up2date GROUP BY d.host_category_id`,
  // What selection reads of a host category's directories is its bits now: crawl details record no change.
  ...["insert", "update", "delete"].flatMap((verb) => [
    `DROP TRIGGER mm_changes_host_category_dirs_${verb} ON host_category_dirs`,
    `DROP FUNCTION mm_changes_host_category_dirs_${verb}()`
  ]),
  // What selection reads: a change only when the bits really changed.
  ...changeTriggerDdl({
    table: "host_category_up2date",
    kind: "hosts",
    payload: `(SELECT jsonb_build_object('hostIds', jsonb_agg(DISTINCT hc.host_id)) FROM rows
      JOIN host_categories hc ON hc.id = rows.host_category_id HAVING count(*) > 0)`,
    events: ["INSERT", "DELETE", "UPDATE"],
    columns: ["bits"],
    key: "host_category_id"
  })
])

/**
 * Where each host category's full crawl resumes (docs/crawler.md#time-limit-and-resuming): a full crawl stopped by
 * the host's time limit keeps the last directory (path) it covered, and the next starts after it; a pass that covers
 * every directory clears it and notes when. Crawl bookkeeping only: no change is recorded.
 */
const crawlResume = runStatements([
  `CREATE TABLE host_category_crawl_resume (
     host_category_id integer PRIMARY KEY REFERENCES host_categories ON DELETE CASCADE,
     resume_after text,
     passed_at timestamptz,
     updated_at timestamptz NOT NULL DEFAULT now()
   )`
])

/**
 * Which version of its directories a category is at (`categories.directories_version`), moved by every statement
 * that links directories to it, unlinks them or renames one: a node keeps a category's directory numbers in memory
 * for check-ins and asks the database for them again only when this moved.
 */
const directoryVersions = runStatements([
  "ALTER TABLE categories ADD COLUMN directories_version bigint NOT NULL DEFAULT 0",
  ...(["INSERT", "DELETE"] as const).map(
    (verb) => `CREATE FUNCTION mm_category_directories_${verb.toLowerCase()}() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        UPDATE categories SET directories_version = directories_version + 1
          WHERE id IN (SELECT DISTINCT category_id FROM ${verb === "INSERT" ? "new_rows" : "old_rows"});
        RETURN NULL;
      END
      $fn$`
  ),
  ...(["INSERT", "DELETE"] as const).map(
    (verb) => `CREATE TRIGGER mm_category_directories_${verb.toLowerCase()} AFTER ${verb} ON category_directories
      REFERENCING ${verb === "INSERT" ? "NEW TABLE AS new_rows" : "OLD TABLE AS old_rows"}
      FOR EACH STATEMENT EXECUTE FUNCTION mm_category_directories_${verb.toLowerCase()}()`
  ),
  `CREATE FUNCTION mm_directories_renamed() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      UPDATE categories SET directories_version = directories_version + 1
        WHERE id IN (SELECT cd.category_id FROM new_rows n JOIN old_rows o ON o.id = n.id
                     JOIN category_directories cd ON cd.directory_id = n.id WHERE n.name <> o.name);
      RETURN NULL;
    END
    $fn$`,
  `CREATE TRIGGER mm_directories_renamed AFTER UPDATE ON directories
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION mm_directories_renamed()`
])

/**
 * Access statistics (docs/statistics.md): requests per UTC day, kind and key, added to by every node each minute. A
 * node's flush is one transaction that also records its (run, seq): written again after a lost acknowledgement, it
 * is found there and not added twice. No client address is stored.
 */
const accessStatistics = runStatements([
  `CREATE TABLE access_stats (
     day date NOT NULL,
     kind text NOT NULL CHECK (kind IN ('countries', 'arches', 'repositories', 'countme')),
     key text NOT NULL,
     requests bigint NOT NULL CHECK (requests >= 0),
     PRIMARY KEY (day, kind, key)
   )`,
  `CREATE TABLE access_stats_flushes (
     run_id uuid NOT NULL,
     seq integer NOT NULL,
     requests bigint NOT NULL,
     flushed_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (run_id, seq)
   )`,
  "CREATE INDEX access_stats_flushes_flushed_at ON access_stats_flushes (flushed_at)"
])

export const migrations = {
  "0001_registry": registry,
  "0002_master_scan": masterScan,
  "0003_change_stream": changeStream,
  "0004_checkins": checkins,
  "0005_crawler": crawler,
  "0006_propagation_events": propagation,
  "0007_up_to_date_bits": upToDateBits,
  "0008_crawl_resume": crawlResume,
  "0009_directory_versions": directoryVersions,
  "0010_access_statistics": accessStatistics
}
