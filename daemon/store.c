#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "log.h"

#define BUSY_TIMEOUT_MS 10000
#define STORE_PATH_MAX 4096
#define LATEST ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* "db" is NULL for a read-only view of a state that does not exist yet. */
struct store {
	sqlite3 *db;
	char path[STORE_PATH_MAX];
	bool in_read; /* between store_read_begin() and store_read_end() */
};

/* Each entry moves the schema from version i to i + 1. */
static const char *const migrations[] = {
    "CREATE TABLE certificates ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " ca TEXT, domains TEXT, fingerprint TEXT,"
    " profile_requested TEXT, profile_issued TEXT,"
    " serial TEXT, not_before INTEGER, not_after INTEGER,"
    " last_attempt INTEGER, last_success INTEGER, last_error TEXT,"
    " failures INTEGER NOT NULL DEFAULT 0,"
    " next_check INTEGER, next_reason TEXT);"
    "CREATE TABLE accounts ("
    " ca_url TEXT PRIMARY KEY NOT NULL, account_url TEXT NOT NULL,"
    " created INTEGER NOT NULL DEFAULT (strftime('%s','now')));",
    "ALTER TABLE certificates ADD COLUMN ari_id TEXT;"
    "ALTER TABLE certificates ADD COLUMN ari_start INTEGER;"
    "ALTER TABLE certificates ADD COLUMN ari_end INTEGER;"
    "ALTER TABLE certificates ADD COLUMN ari_chosen INTEGER;"
    "ALTER TABLE certificates ADD COLUMN ari_next_fetch INTEGER;"
    "ALTER TABLE certificates ADD COLUMN ari_failures INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE certificates ADD COLUMN ari_explanation TEXT;",
    "ALTER TABLE certificates ADD COLUMN revoked_at INTEGER;",
    "ALTER TABLE certificates ADD COLUMN hook_pending INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE certificates ADD COLUMN hook_status INTEGER;"
    "CREATE TABLE orders ("
    " name TEXT PRIMARY KEY NOT NULL, ca TEXT NOT NULL, url TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL, step TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE attempts ("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL, ca TEXT NOT NULL,"
    " identifiers TEXT NOT NULL, time INTEGER NOT NULL, outcome TEXT NOT NULL,"
    " error_type TEXT, detail TEXT);"
    "CREATE INDEX attempts_by_set ON attempts (ca, identifiers, time);"
    "CREATE INDEX attempts_by_name ON attempts (name, time);",
};

enum col_type {
	COL_TEXT,
	COL_INT,
	COL_TIME,
};

/* The certificates table, column by column, in SQL order. */
static const struct col {
	const char *name;
	enum col_type type;
	size_t off;
} cert_cols[] = {
#define T(m) {#m, COL_TEXT, offsetof(struct store_cert, m)}
#define I(m) {#m, COL_INT, offsetof(struct store_cert, m)}
#define S(m) {#m, COL_TIME, offsetof(struct store_cert, m)}
    T(name), T(ca), T(domains), T(fingerprint), T(profile_requested),
    T(profile_issued), T(serial), S(not_before), S(not_after),
    S(last_attempt), S(last_success), T(last_error), I(failures),
    S(next_check), T(next_reason), T(ari_id), S(ari_start), S(ari_end),
    S(ari_chosen), S(ari_next_fetch), I(ari_failures), T(ari_explanation),
    S(revoked_at), I(hook_pending), I(hook_status),
#undef T
#undef I
#undef S
};
#define NCOLS (sizeof(cert_cols) / sizeof(cert_cols[0]))

/* What to do about the last error, if it says the file is damaged. */
static const char *
advice(struct store *s)
{
	int e = sqlite3_errcode(s->db) & 0xff;

	return e == SQLITE_CORRUPT || e == SQLITE_NOTADB ? " (the file is damaged: move it aside to start afresh)" : "";
}

static int
db_fail(struct store *s, const char *what)
{
	log_err("state database %s: %s: %s%s", s->path, what, sqlite3_errmsg(s->db), advice(s));
	return -EIO;
}

static int
exec(struct store *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("state database %s: %s%s", s->path, msg != NULL ? msg : sqlite3_errmsg(s->db), advice(s));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int
user_version(struct store *s, int *ret)
{
	sqlite3_stmt *st;
	int r = -EIO;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "user_version");
	if (sqlite3_step(st) == SQLITE_ROW) {
		*ret = sqlite3_column_int(st, 0);
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

static int
migrate(struct store *s)
{
	const int latest = LATEST;
	char sql[64];
	int v, r;

	if ((r = exec(s, "BEGIN IMMEDIATE")) < 0)
		return r;
	if ((r = user_version(s, &v)) < 0)
		goto out;
	if (v > latest) {
		log_err("state database %s: schema version %d is newer than this acmed (%d); refusing to use it", s->path, v, latest);
		r = -EPROTO;
		goto out;
	}
	for (; v < latest; v++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if ((r = exec(s, migrations[v])) < 0 || (r = exec(s, sql)) < 0)
			goto out;
	}
	return exec(s, "COMMIT");
out:
	exec(s, "ROLLBACK");
	return r;
}

/* PRAGMA quick_check must say "ok": refuse to run on a damaged file. */
static int
quick_check(struct store *s)
{
	sqlite3_stmt *st;
	int r = -EIO;

	if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "quick_check");
	if (sqlite3_step(st) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0)
		r = 0;
	else
		log_err("state database %s is damaged (quick_check: %s); move it aside to start afresh", s->path,
		    sqlite3_column_text(st, 0) != NULL ? (const char *)sqlite3_column_text(st, 0) : sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	return r;
}

/* A store for STATE_DIR/acmed.db, not open yet. */
static int
store_new(const char *state_dir, struct store **ret)
{
	struct store *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	if ((size_t)snprintf(s->path, sizeof(s->path), "%s/%s", state_dir, STORE_FILE) >= sizeof(s->path)) {
		free(s);
		return -ENAMETOOLONG;
	}
	*ret = s;
	return 0;
}

/* A PRAGMA's value as text into "buf" ("?" if it cannot be read). */
static void
pragma_value(struct store *s, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt *st;

	snprintf(buf, size, "?");
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

int
store_open(const char *state_dir, struct store **ret)
{
	struct store *s;
	char mode[16], sync[16], version[16];
	int r;

	if ((r = store_new(state_dir, &s)) < 0)
		return r;
	if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		r = db_fail(s, "open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* A small page cache: the daemon reads every row once per plan, then sleeps. */
	if ((r = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-256")) < 0 ||
	    (r = quick_check(s)) < 0 || (r = migrate(s)) < 0)
		goto fail;
	/* What the connection really uses, for the debug log. */
	pragma_value(s, "PRAGMA journal_mode", mode, sizeof(mode));
	pragma_value(s, "PRAGMA synchronous", sync, sizeof(sync));
	pragma_value(s, "PRAGMA user_version", version, sizeof(version));
	log_debug("state database %s: journal_mode=%s synchronous=%s user_version=%s", s->path, mode, sync, version);
	/* The attempt history is for recent rate-limit decisions and status. */
	(void)exec(s, "DELETE FROM attempts WHERE time < strftime('%s','now') - 90 * 86400");
	*ret = s;
	return 0;
fail:
	store_close(s);
	return r;
}

/*
 * Whether "path" may be read as immutable: in WAL mode (header bytes 18
 * and 19 are 2) with no "-wal" file, no connection is open and the last
 * one checkpointed, so the file alone is the state.  Writers append to the
 * -wal file and leave the main file alone until a checkpoint, so one that
 * starts meanwhile does not disturb the read.  Reading it so keeps sqlite
 * from creating "-wal" and "-shm" files (as root, say, in a state
 * directory that the daemon's user must own).
 */
static bool
quiet_wal_file(const char *path)
{
	unsigned char head[20];
	char wal[STORE_PATH_MAX + 8];
	struct stat sb;
	bool wal_mode;
	FILE *f;

	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (stat(wal, &sb) == 0 || errno != ENOENT || (f = fopen(path, "rbe")) == NULL)
		return false;
	wal_mode = fread(head, 1, sizeof(head), f) == sizeof(head) && head[18] == 2 && head[19] == 2;
	fclose(f);
	return wal_mode;
}

/* The URI to read "path" with (read-only; immutable when quiet). */
static int
readonly_uri(const char *path, char *uri, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o;
	const char *p;

	o = (size_t)snprintf(uri, size, "file:");
	for (p = path; *p != '\0' && o + 4 < size; p++) {
		if (*p == '%' || *p == '?' || *p == '#') {
			uri[o++] = '%';
			uri[o++] = hex[(unsigned char)*p >> 4];
			uri[o++] = hex[(unsigned char)*p & 0xf];
		} else {
			uri[o++] = *p;
		}
	}
	if (*p != '\0' || o + sizeof("?mode=ro&immutable=1") > size)
		return -ENAMETOOLONG;
	snprintf(uri + o, size - o, "?mode=ro%s", quiet_wal_file(path) ? "&immutable=1" : "");
	return 0;
}

int
store_open_readonly(const char *state_dir, struct store **ret)
{
	struct store *s;
	struct stat sb;
	char uri[3 * STORE_PATH_MAX + 32];
	int r, v;

	if ((r = store_new(state_dir, &s)) < 0)
		return r;
	if (stat(s->path, &sb) < 0 && errno == ENOENT) {
		*ret = s; /* nothing recorded yet: every read finds no row */
		return 0;
	}
	if ((r = readonly_uri(s->path, uri, sizeof(uri))) < 0)
		goto fail;
	if (sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		r = db_fail(s, "open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if ((r = quick_check(s)) < 0 || (r = user_version(s, &v)) < 0)
		goto fail;
	if (v != LATEST) {
		log_err("state database %s has schema version %d, this acmed reads version %d%s", s->path, v, LATEST,
		    v < LATEST ? "; \"acmed run\" or \"acmed renew\" migrates it" : " (written by a newer acmed)");
		r = -EPROTO;
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	store_close(s);
	return r;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	sqlite3_close(s->db);
	free(s);
}

static char *
col_str(sqlite3_stmt *st, int i, int *oom)
{
	const unsigned char *v = sqlite3_column_text(st, i);
	char *s;

	if (v == NULL)
		return NULL;
	if ((s = strdup((const char *)v)) == NULL)
		*oom = 1;
	return s;
}

#define CERT_SQL_MAX 1024

static char cert_select[CERT_SQL_MAX], cert_insert[CERT_SQL_MAX];
static pthread_once_t cert_sql_once = PTHREAD_ONCE_INIT;

/* Fill "buf" with "SELECT a, b, ... FROM certificates" or the INSERT. */
static void
build_cert_sql(char *buf, bool insert)
{
	size_t o, i;

	o = (size_t)snprintf(buf, CERT_SQL_MAX, "%s", insert ? "INSERT OR REPLACE INTO certificates (" : "SELECT ");
	for (i = 0; i < NCOLS; i++)
		o += (size_t)snprintf(buf + o, CERT_SQL_MAX - o, "%s%s", i ? ", " : "", cert_cols[i].name);
	if (insert) {
		o += (size_t)snprintf(buf + o, CERT_SQL_MAX - o, ") VALUES (");
		for (i = 0; i < NCOLS; i++)
			o += (size_t)snprintf(buf + o, CERT_SQL_MAX - o, "%s?", i ? "," : "");
		snprintf(buf + o, CERT_SQL_MAX - o, ")");
	} else {
		snprintf(buf + o, CERT_SQL_MAX - o, " FROM certificates WHERE name = ?");
	}
}

static void
build_cert_sqls(void)
{
	build_cert_sql(cert_select, false);
	build_cert_sql(cert_insert, true);
}

/*
 * The statements for the certificates table, built once: the threads of a
 * pass read and write rows at the same time, and a half-built text would
 * reach sqlite as "incomplete input".
 */
static const char *
cert_sql(bool insert)
{
	pthread_once(&cert_sql_once, build_cert_sqls);
	return insert ? cert_insert : cert_select;
}

int
store_read_begin(struct store *s)
{
	if (s->in_read)
		return -EBUSY;
	if (exec(s, "BEGIN") < 0)
		return -EIO;
	s->in_read = true;
	return 0;
}

void
store_read_end(struct store *s)
{
	if (!s->in_read)
		return;
	s->in_read = false;
	(void)exec(s, "COMMIT");
}

int
store_cert_get(struct store *s, const char *name, struct store_cert **ret)
{
	struct store_cert *c = NULL;
	sqlite3_stmt *st;
	int rc, oom = 0, r;
	size_t i;

	if (s->db == NULL)
		return -ENOENT;
	if (sqlite3_prepare_v2(s->db, cert_sql(false), -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "read certificate");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = -ENOENT;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = db_fail(s, "read certificate");
		goto out;
	}
	r = -ENOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto out;
	for (i = 0; i < NCOLS; i++) {
		char *field = (char *)c + cert_cols[i].off;

		switch (cert_cols[i].type) {
		case COL_TEXT:
			*(char **)(void *)field = col_str(st, (int)i, &oom);
			break;
		case COL_INT:
			*(int *)(void *)field = sqlite3_column_int(st, (int)i);
			break;
		case COL_TIME:
			*(time_t *)(void *)field = (time_t)sqlite3_column_int64(st, (int)i);
			break;
		}
	}
	if (oom)
		goto out;
	*ret = c;
	c = NULL;
	r = 0;
out:
	store_cert_free(c);
	sqlite3_finalize(st);
	return r;
}

void
store_cert_free(struct store_cert *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < NCOLS; i++)
		if (cert_cols[i].type == COL_TEXT)
			free(*(char **)(void *)((char *)c + cert_cols[i].off));
	free(c);
}

int
store_cert_put(struct store *s, const struct store_cert *c)
{
	sqlite3_stmt *st;
	int r = 0;
	size_t i;

	if (s->db == NULL)
		return -EROFS;
	if (sqlite3_prepare_v2(s->db, cert_sql(true), -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "write certificate");
	for (i = 0; i < NCOLS; i++) {
		const char *field = (const char *)c + cert_cols[i].off;
		int idx = (int)i + 1;

		switch (cert_cols[i].type) {
		case COL_TEXT:
			sqlite3_bind_text(st, idx, *(char *const *)(const void *)field, -1, SQLITE_STATIC);
			break;
		case COL_INT:
			sqlite3_bind_int(st, idx, *(const int *)(const void *)field);
			break;
		case COL_TIME:
			sqlite3_bind_int64(st, idx, (sqlite3_int64) * (const time_t *)(const void *)field);
			break;
		}
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(s, "write certificate");
	sqlite3_finalize(st);
	return r;
}

int
store_account_get(struct store *s, const char *ca_url, char **ret_url)
{
	sqlite3_stmt *st;
	int rc, r = -ENOENT, oom = 0;
	char *url;

	if (s->db == NULL)
		return -ENOENT;
	if (sqlite3_prepare_v2(s->db, "SELECT account_url FROM accounts WHERE ca_url = ?", -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "read account");
	sqlite3_bind_text(st, 1, ca_url, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		url = col_str(st, 0, &oom);
		r = oom ? -ENOMEM : url == NULL ? -ENOENT : 0;
		if (r == 0)
			*ret_url = url;
	} else if (rc != SQLITE_DONE) {
		r = db_fail(s, "read account");
	}
	sqlite3_finalize(st);
	return r;
}

int
store_account_put(struct store *s, const char *ca_url, const char *account_url)
{
	sqlite3_stmt *st;
	int r = 0;

	if (s->db == NULL)
		return -EROFS;
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO accounts (ca_url, account_url) VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "write account");
	sqlite3_bind_text(st, 1, ca_url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account_url, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(s, "write account");
	sqlite3_finalize(st);
	return r;
}

int
store_attempt_add(struct store *s, const char *name, const char *ca,
    const char *identifiers, time_t when, const char *outcome,
    const char *error_type, const char *detail)
{
	sqlite3_stmt *st;
	int r = 0;

	if (s->db == NULL)
		return -EROFS;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO attempts (name, ca, identifiers, time, outcome, error_type, detail)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "write attempt");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ca, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, identifiers, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)when);
	sqlite3_bind_text(st, 5, outcome, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, error_type != NULL && *error_type ? error_type : NULL, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, detail, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(s, "write attempt");
	sqlite3_finalize(st);
	return r;
}

int
store_attempt_count(struct store *s, const char *ca, const char *identifiers,
    time_t since, const char *outcome, unsigned *ret)
{
	sqlite3_stmt *st;
	int r = -EIO;

	if (s->db == NULL) {
		*ret = 0;
		return 0;
	}
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM attempts WHERE ca = ? AND identifiers = ?"
	    " AND time >= ? AND outcome = ?", -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "count attempts");
	sqlite3_bind_text(st, 1, ca, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, identifiers, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)since);
	sqlite3_bind_text(st, 4, outcome, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*ret = (unsigned)sqlite3_column_int(st, 0);
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

int
store_order_get(struct store *s, const char *name, struct store_order *ret)
{
	sqlite3_stmt *st;
	int rc, r = -ENOENT, oom = 0;

	if (s->db == NULL)
		return -ENOENT;
	if (sqlite3_prepare_v2(s->db, "SELECT ca, url, fingerprint, step, created FROM orders WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "read order");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(ret, 0, sizeof(*ret));
		ret->ca = col_str(st, 0, &oom);
		ret->url = col_str(st, 1, &oom);
		ret->fingerprint = col_str(st, 2, &oom);
		ret->step = col_str(st, 3, &oom);
		ret->created = (time_t)sqlite3_column_int64(st, 4);
		r = oom || ret->url == NULL ? -ENOMEM : 0;
		if (r < 0)
			store_order_fini(ret);
	} else if (rc != SQLITE_DONE) {
		r = db_fail(s, "read order");
	}
	sqlite3_finalize(st);
	return r;
}

void
store_order_fini(struct store_order *o)
{
	free(o->ca);
	free(o->url);
	free(o->fingerprint);
	free(o->step);
	memset(o, 0, sizeof(*o));
}

int
store_order_put(struct store *s, const char *name, const struct store_order *o)
{
	sqlite3_stmt *st;
	int r = 0;

	if (s->db == NULL)
		return -EROFS;
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO orders (name, ca, url, fingerprint, step, created)"
	    " VALUES (?, ?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "write order");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, o->ca, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, o->url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, o->fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, o->step, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)o->created);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(s, "write order");
	sqlite3_finalize(st);
	return r;
}

int
store_order_del(struct store *s, const char *name)
{
	sqlite3_stmt *st;
	int r = 0;

	if (s->db == NULL)
		return -EROFS;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM orders WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "delete order");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(s, "delete order");
	sqlite3_finalize(st);
	return r;
}
