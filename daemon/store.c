#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"

#define BUSY_TIMEOUT_MS 10000

struct store {
	sqlite3 *db;
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
};

static int
db_fail(struct store *s, const char *what)
{
	log_err("state database: %s: %s", what, sqlite3_errmsg(s->db));
	return -EIO;
}

static int
exec(struct store *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("state database: %s", msg != NULL ? msg : sqlite3_errmsg(s->db));
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
	const int latest = (int)(sizeof(migrations) / sizeof(migrations[0]));
	char sql[64];
	int v, r;

	if ((r = exec(s, "BEGIN IMMEDIATE")) < 0)
		return r;
	if ((r = user_version(s, &v)) < 0)
		goto out;
	if (v > latest) {
		log_err("state database: schema version %d is newer than this acmed (%d)", v, latest);
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

int
store_open(const char *state_dir, struct store **ret)
{
	struct store *s;
	char path[4096];
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir, STORE_FILE) >= sizeof(path))
		return -ENAMETOOLONG;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		r = db_fail(s, path);
		goto fail;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if ((r = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON")) < 0 ||
	    (r = migrate(s)) < 0)
		goto fail;
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

int
store_cert_get(struct store *s, const char *name, struct store_cert **ret)
{
	static const char sql[] =
	    "SELECT name, ca, domains, fingerprint, profile_requested,"
	    " profile_issued, serial, not_before, not_after, last_attempt,"
	    " last_success, last_error, failures, next_check, next_reason"
	    " FROM certificates WHERE name = ?";
	struct store_cert *c = NULL;
	sqlite3_stmt *st;
	int rc, oom = 0, r;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
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
	c->name = col_str(st, 0, &oom);
	c->ca = col_str(st, 1, &oom);
	c->domains = col_str(st, 2, &oom);
	c->fingerprint = col_str(st, 3, &oom);
	c->profile_requested = col_str(st, 4, &oom);
	c->profile_issued = col_str(st, 5, &oom);
	c->serial = col_str(st, 6, &oom);
	c->not_before = (time_t)sqlite3_column_int64(st, 7);
	c->not_after = (time_t)sqlite3_column_int64(st, 8);
	c->last_attempt = (time_t)sqlite3_column_int64(st, 9);
	c->last_success = (time_t)sqlite3_column_int64(st, 10);
	c->last_error = col_str(st, 11, &oom);
	c->failures = sqlite3_column_int(st, 12);
	c->next_check = (time_t)sqlite3_column_int64(st, 13);
	c->next_reason = col_str(st, 14, &oom);
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
	if (c == NULL)
		return;
	free(c->name);
	free(c->ca);
	free(c->domains);
	free(c->fingerprint);
	free(c->profile_requested);
	free(c->profile_issued);
	free(c->serial);
	free(c->last_error);
	free(c->next_reason);
	free(c);
}

int
store_cert_put(struct store *s, const struct store_cert *c)
{
	static const char sql[] =
	    "INSERT OR REPLACE INTO certificates (name, ca, domains,"
	    " fingerprint, profile_requested, profile_issued, serial,"
	    " not_before, not_after, last_attempt, last_success, last_error,"
	    " failures, next_check, next_reason)"
	    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *st;
	int r = 0;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "write certificate");
	sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->ca, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->domains, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, c->fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, c->profile_requested, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, c->profile_issued, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, c->serial, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)c->not_before);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)c->not_after);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)c->last_attempt);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)c->last_success);
	sqlite3_bind_text(st, 12, c->last_error, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 13, c->failures);
	sqlite3_bind_int64(st, 14, (sqlite3_int64)c->next_check);
	sqlite3_bind_text(st, 15, c->next_reason, -1, SQLITE_STATIC);
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

	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO accounts (ca_url, account_url) VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "write account");
	sqlite3_bind_text(st, 1, ca_url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account_url, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(s, "write account");
	sqlite3_finalize(st);
	return r;
}
