"""The database schema, as migrations applied in order (PRAGMA user_version counts them)."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    """
    CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT NOT NULL, language TEXT,
        password_hash TEXT, created TEXT NOT NULL);
    CREATE TABLE contacts (customer_id TEXT NOT NULL REFERENCES customers(id), email TEXT NOT NULL,
        admin INTEGER NOT NULL DEFAULT 0, added_by TEXT, created TEXT NOT NULL,
        PRIMARY KEY (customer_id, email));
    CREATE INDEX contacts_email ON contacts(email);
    CREATE TABLE tickets (number INTEGER PRIMARY KEY, subject TEXT NOT NULL, status TEXT NOT NULL,
        queue TEXT NOT NULL, priority TEXT NOT NULL, customer_id TEXT, requester TEXT NOT NULL,
        comm_address TEXT NOT NULL, assignee TEXT, price TEXT, due TEXT, first_response_due TEXT,
        language TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL);
    CREATE TABLE messages (id INTEGER PRIMARY KEY, ticket INTEGER NOT NULL REFERENCES tickets(number),
        direction TEXT NOT NULL, message_id TEXT, message_key TEXT, from_addr TEXT NOT NULL,
        to_addrs TEXT NOT NULL, date TEXT NOT NULL, subject TEXT NOT NULL, text TEXT NOT NULL,
        raw_sha256 TEXT, created TEXT NOT NULL);
    CREATE INDEX messages_ticket ON messages(ticket);
    CREATE TABLE attachments (id INTEGER PRIMARY KEY, message INTEGER NOT NULL REFERENCES messages(id),
        filename TEXT NOT NULL, content_type TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL);
    CREATE INDEX attachments_message ON attachments(message);
    CREATE TABLE thread_ids (message_id TEXT PRIMARY KEY, ticket INTEGER NOT NULL);
    CREATE TABLE inbound (key TEXT PRIMARY KEY, message_id TEXT, sender TEXT, subject TEXT,
        outcome TEXT, ticket INTEGER, reason TEXT, attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT, uidvalidity INTEGER, uid INTEGER, raw_sha256 TEXT, updated TEXT NOT NULL);
    CREATE TABLE quarantine (id INTEGER PRIMARY KEY, key TEXT NOT NULL, reason TEXT NOT NULL,
        sender TEXT, subject TEXT, date TEXT, raw_sha256 TEXT, attempts INTEGER NOT NULL DEFAULT 1,
        status TEXT NOT NULL DEFAULT 'held', created TEXT NOT NULL);
    CREATE TABLE outbox (id INTEGER PRIMARY KEY, ticket INTEGER, kind TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE, mail_from TEXT NOT NULL, rcpt TEXT NOT NULL, subject TEXT NOT NULL,
        raw BLOB NOT NULL, status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT NOT NULL, last_error TEXT, created TEXT NOT NULL, sent_at TEXT);
    CREATE INDEX outbox_due ON outbox(status, next_attempt);
    CREATE TABLE events (id INTEGER PRIMARY KEY, ticket INTEGER, message_key TEXT, kind TEXT NOT NULL,
        detail TEXT NOT NULL, created TEXT NOT NULL);
    CREATE INDEX events_ticket ON events(ticket);
    CREATE TABLE notices (address TEXT NOT NULL, kind TEXT NOT NULL, last_sent TEXT NOT NULL,
        PRIMARY KEY (address, kind));
    CREATE TABLE watermarks (mailbox TEXT PRIMARY KEY, uidvalidity INTEGER NOT NULL, last_uid INTEGER NOT NULL);
    """,
    """
    ALTER TABLE tickets ADD COLUMN parent INTEGER;
    ALTER TABLE messages ADD COLUMN original_text TEXT;
    """,
    """
    CREATE TABLE auth_failures (scope TEXT NOT NULL, subject TEXT NOT NULL, at TEXT NOT NULL);
    CREATE INDEX auth_failures_subject ON auth_failures(scope, subject, at);
    CREATE TABLE auth_blocks (scope TEXT NOT NULL, subject TEXT NOT NULL, until TEXT NOT NULL,
        level INTEGER NOT NULL, PRIMARY KEY (scope, subject));
    ALTER TABLE inbound ADD COLUMN redacted INTEGER NOT NULL DEFAULT 0;
    """,
    """
    CREATE TABLE bounced (address TEXT PRIMARY KEY, at TEXT NOT NULL, outbox INTEGER);
    CREATE INDEX outbox_rcpt ON outbox(rcpt, created);
    CREATE TABLE buckets (sender TEXT PRIMARY KEY, tokens REAL NOT NULL, updated TEXT NOT NULL);
    ALTER TABLE outbox ADD COLUMN claimed_by INTEGER;
    """,
    """
    CREATE INDEX tickets_requester ON tickets(requester);
    CREATE INDEX tickets_comm_address ON tickets(comm_address);
    CREATE INDEX outbox_kind_created ON outbox(kind, created);
    ALTER TABLE outbox ADD COLUMN attachments TEXT;
    """,
    """
    ALTER TABLE customers ADD COLUMN plan TEXT;
    ALTER TABLE tickets ADD COLUMN plan TEXT;
    ALTER TABLE tickets ADD COLUMN resolution_due TEXT;
    ALTER TABLE tickets ADD COLUMN first_response_at TEXT;
    ALTER TABLE tickets ADD COLUMN resolved_at TEXT;
    ALTER TABLE tickets ADD COLUMN paused_at TEXT;
    CREATE INDEX tickets_status ON tickets(status);
    CREATE INDEX events_ticket_kind ON events(ticket, kind);
    """,
    """
    ALTER TABLE tickets ADD COLUMN tags TEXT;
    CREATE TABLE away (email TEXT PRIMARY KEY, until TEXT, since TEXT NOT NULL);
    CREATE INDEX tickets_queue_status ON tickets(queue, status);
    CREATE INDEX tickets_assignee_status ON tickets(assignee, status);
    """,
    """
    CREATE TABLE licences (number TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id),
        product TEXT NOT NULL, created TEXT NOT NULL);
    CREATE INDEX licences_customer ON licences(customer_id);
    """,
    """
    CREATE TABLE articles (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL,
        language TEXT NOT NULL, queues TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'draft',
        source_ticket INTEGER, author TEXT, created TEXT NOT NULL, updated TEXT NOT NULL);
    CREATE INDEX articles_status_language ON articles(status, language);
    CREATE VIRTUAL TABLE articles_fts USING fts5(title, body, content=[articles], content_rowid=[id],
        tokenize='unicode61 remove_diacritics 2');
    CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
    END;
    CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
    END;
    CREATE TRIGGER articles_au AFTER UPDATE ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
        INSERT INTO articles_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
    END;
    """,
    """
    ALTER TABLE customers ADD COLUMN contract_address TEXT;
    """,
    """
    CREATE TABLE daemon (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER, started TEXT, heartbeat TEXT,
        last_fetch TEXT, imap TEXT, smtp TEXT);
    """,
    """
    ALTER TABLE attachments ADD COLUMN purged TEXT;
    """,
    """
    CREATE INDEX tickets_customer_status ON tickets(customer_id, status);
    """,
    """
    ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
    """,
    """
    CREATE INDEX tickets_queue_status_priority ON tickets(queue, status, priority);
    """,
    # The caps count a ticket's and a recipient's recent mail: answered from these indexes alone
    # (a consultant told of every new ticket has thousands of rows under his address).
    """
    CREATE INDEX outbox_ticket_rcpt ON outbox(ticket, rcpt, created, kind);
    DROP INDEX outbox_rcpt;
    CREATE INDEX outbox_rcpt ON outbox(rcpt, created, kind);
    """,
    # Blobs smaller than blobs.INLINE_MAX: one row each instead of a file (used: unix time of the last put).
    """
    CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL, used REAL NOT NULL);
    """,
    # The escalation job looks only at open tickets whose next warning or breach moment has come
    # ('' = changed since it last looked, NULL = nothing left to tell); settings keeps what those
    # moments were computed from (hours, plans, sla.warn_at, the release).
    """
    ALTER TABLE tickets ADD COLUMN sla_check_at TEXT DEFAULT '';
    CREATE INDEX tickets_sla_check ON tickets(status, sla_check_at);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
]
