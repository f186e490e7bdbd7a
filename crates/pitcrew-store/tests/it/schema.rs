//! The two migration folders describe one logical schema.

use std::collections::{BTreeMap, BTreeSet};

use pitcrew_store::{Db, Engine, params};

/// Columns holding JSON: JSONB on PostgreSQL, JSON text on SQLite.
const JSON_COLUMNS: &[&str] = &[
    "settings",
    "options",
    "default_value",
    "data",
    "changes",
    "properties",
    "context",
    "identities",
    "property_keys",
    "traits",
    "last_value",
    "segments",
    "exclusions",
    "utm",
    "content",
];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    pub name: String,
    /// `integer`, `text`, `json`, `boolean`, or the raw type when unknown.
    pub kind: String,
    pub nullable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Index {
    pub name: String,
    pub unique: bool,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// In declaration order.
    pub columns: Vec<Column>,
    pub indexes: BTreeSet<Index>,
}

pub type Schema = BTreeMap<String, Table>;

fn kind(column: &str, declared: &str) -> String {
    let declared = declared.to_ascii_lowercase();
    match declared.as_str() {
        "integer" | "bigint" => "integer".into(),
        "jsonb" | "json" => "json".into(),
        "text" if JSON_COLUMNS.contains(&column) => "json".into(),
        "text" => "text".into(),
        "boolean" => "boolean".into(),
        other => other.into(),
    }
}

/// The logical schema of a database: tables, typed columns and named indexes.
pub async fn logical_schema(db: &Db) -> Schema {
    match db.engine() {
        Engine::Sqlite => sqlite_schema(db).await,
        Engine::Postgres => postgres_schema(db).await,
    }
}

async fn sqlite_schema(db: &Db) -> Schema {
    let mut schema = Schema::new();
    let tables = db
        .fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
            vec![],
        )
        .await
        .expect("list SQLite tables");
    for t in tables {
        let table = t.text("name").expect("table name");
        let mut columns = Vec::new();
        for c in db
            .fetch_all(
                "SELECT name, type, \"notnull\" AS not_null, pk FROM pragma_table_info($1) ORDER BY cid",
                params![table.as_str()],
            )
            .await
            .expect("SQLite columns")
        {
            let name = c.text("name").expect("column name");
            // A primary key column never holds NULL (INTEGER PRIMARY KEY is the rowid).
            let not_null = c.int("not_null").expect("notnull") != 0 || c.int("pk").expect("pk") > 0;
            columns.push(Column {
                kind: kind(&name, &c.text("type").expect("column type")),
                name,
                nullable: !not_null,
            });
        }
        let mut indexes = BTreeSet::new();
        for i in db
            .fetch_all(
                "SELECT name, \"unique\" AS is_unique FROM pragma_index_list($1)",
                params![table.as_str()],
            )
            .await
            .expect("SQLite indexes")
        {
            let name = i.text("name").expect("index name");
            if name.starts_with("sqlite_autoindex_") {
                continue;
            }
            let columns = db
                .fetch_all(
                    "SELECT name FROM pragma_index_info($1) ORDER BY seqno",
                    params![name.as_str()],
                )
                .await
                .expect("SQLite index columns")
                .iter()
                .map(|r| r.text("name").expect("index column"))
                .collect();
            indexes.insert(Index {
                unique: i.int("is_unique").expect("unique") != 0,
                name,
                columns,
            });
        }
        schema.insert(table, Table { columns, indexes });
    }
    schema
}

/// `a, "b"` from `CREATE INDEX x ON s.t USING btree (a, "b")`.
fn index_columns(indexdef: &str) -> Vec<String> {
    let inside = indexdef
        .rsplit_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(cols, _)| cols)
        .unwrap_or_default();
    inside
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_string())
        .collect()
}

async fn postgres_schema(db: &Db) -> Schema {
    let mut schema = Schema::new();
    for t in db
        .fetch_all(
            "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
            vec![],
        )
        .await
        .expect("list PostgreSQL tables")
    {
        schema.insert(t.text("name").expect("table name"), Table::default());
    }
    for c in db
        .fetch_all(
            "SELECT table_name::text AS table_name, column_name::text AS name, data_type::text AS data_type, is_nullable::text AS is_nullable \
             FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
            vec![],
        )
        .await
        .expect("PostgreSQL columns")
    {
        let table = c.text("table_name").expect("table name");
        let name = c.text("name").expect("column name");
        let column = Column {
            kind: kind(&name, &c.text("data_type").expect("data type")),
            nullable: c.text("is_nullable").expect("is_nullable") == "YES",
            name,
        };
        schema.entry(table).or_default().columns.push(column);
    }
    for i in db
        .fetch_all(
            "SELECT tablename::text AS table_name, indexname::text AS name, indexdef FROM pg_indexes WHERE schemaname = current_schema()",
            vec![],
        )
        .await
        .expect("PostgreSQL indexes")
    {
        let name = i.text("name").expect("index name");
        if name.ends_with("_pkey") {
            continue;
        }
        let def = i.text("indexdef").expect("index definition");
        let index = Index {
            unique: def.starts_with("CREATE UNIQUE INDEX"),
            columns: index_columns(&def),
            name,
        };
        schema
            .entry(i.text("table_name").expect("table name"))
            .or_default()
            .indexes
            .insert(index);
    }
    schema
}

#[tokio::test]
async fn schema_is_the_same_on_both_engines() {
    let sqlite = pitcrew_testkit::sqlite().await;
    let Some(postgres) = pitcrew_testkit::postgres().await else {
        eprintln!("note: schema_is_the_same_on_both_engines needs PostgreSQL; skipped");
        return;
    };
    let lite = logical_schema(&sqlite.db).await;
    let pg = logical_schema(&postgres.db).await;

    assert!(
        lite.contains_key("contacts") && lite.contains_key("schema_migrations"),
        "the SQLite schema was not read: {lite:#?}"
    );
    assert_eq!(
        lite.keys().collect::<Vec<_>>(),
        pg.keys().collect::<Vec<_>>(),
        "tables differ (left SQLite, right PostgreSQL)"
    );
    for (name, l) in &lite {
        let p = &pg[name];
        assert_eq!(
            l.columns, p.columns,
            "table `{name}`: columns differ (left SQLite, right PostgreSQL)"
        );
        assert_eq!(
            l.indexes, p.indexes,
            "table `{name}`: named indexes differ (left SQLite, right PostgreSQL)"
        );
    }
    for (name, t) in &lite {
        for c in &t.columns {
            assert!(
                ["integer", "text", "json", "boolean"].contains(&c.kind.as_str()),
                "`{name}.{}` has a type outside the portable set: {}",
                c.name,
                c.kind
            );
        }
    }
}

#[tokio::test]
async fn every_json_column_is_jsonb_on_postgres() {
    let Some(postgres) = pitcrew_testkit::postgres().await else {
        return;
    };
    let rows = postgres
        .db
        .fetch_all(
            "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS d FROM information_schema.columns WHERE table_schema = current_schema()",
            vec![],
        )
        .await
        .expect("PostgreSQL columns");
    let mut json_columns = Vec::new();
    for r in &rows {
        let (t, c, d) = (
            r.text("t").expect("t"),
            r.text("c").expect("c"),
            r.text("d").expect("d"),
        );
        if JSON_COLUMNS.contains(&c.as_str()) {
            assert_eq!(d, "jsonb", "`{t}.{c}` should be JSONB on PostgreSQL");
            json_columns.push(format!("{t}.{c}"));
        } else {
            assert_ne!(
                d, "jsonb",
                "`{t}.{c}` is JSONB but not named as a JSON column"
            );
        }
    }
    json_columns.sort();
    assert_eq!(
        json_columns,
        [
            "accounts.data",
            "accounts.traits",
            "audit_log.changes",
            "broadcasts.content",
            "broadcasts.exclusions",
            "broadcasts.segments",
            "broadcasts.utm",
            "contacts.data",
            "contacts.traits",
            "event_types.property_keys",
            "events.context",
            "events.properties",
            "fields.default_value",
            "fields.options",
            "imports.settings",
            "merges.identities",
            "undeclared_traits.last_value",
            "workspaces.settings",
        ]
    );
}
