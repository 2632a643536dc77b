//! Compiles SCIM filters (RFC 7644 §3.4.2.2) and `sortBy` (§3.4.2.3) to parameterised SQL over
//! a resource table, with exactly the semantics of the reference evaluator
//! [`crate::scim::filter::matches`] (its module documentation lists them). No filter text is
//! ever pasted into SQL: every value is a bound parameter (`?N`); the only names written into
//! the SQL text are the schema's own attribute names, as JSON paths.
//!
//! One compiler serves every resource type through a [`TableMap`]: the table's columns for
//! `id`/`meta`, the JSON document column, and the indexed columns that stand for some
//! attributes. Everything else is read from the document with SQLite's JSON functions
//! (`json_extract`, `json_each`, `json_tree`). The stored document is normalised
//! ([`crate::scim::resource::normalize`]: canonical attribute names, values of the schema's
//! type), so a path resolves through the schema to one JSON path. What the returned resource
//! has beyond the document (`id`, `schemas`, `meta`) is rebuilt in SQL from the row when a
//! filter reaches it through the JSON path (a fast path reads the columns directly).
//!
//! Strings with `caseExact=false` compare after Unicode case folding, in SQL with
//! `scim_fold()` (registered on every connection, `store::fold`) or through a column that
//! already holds the folded value; date-times as instants with `scim_instant()` (registered
//! by [`register`]).

use std::sync::LazyLock;

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::scim::ScimError;
use crate::scim::filter::{AttrInfo, AttrKind, AttrPath, CompareOp, Filter};
use crate::scim::schema::{self, Attribute, ResourceType};
use crate::store::fold::fold;

/// SQL text with numbered placeholders (`?1`, `?2`, …) and their values: `params[i]` is
/// `?{i+1}`. Numbered placeholders let one value be used twice and let callers append more
/// SQL after a compiled condition.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Condition {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

impl Condition {
    /// Adds a parameter and returns its placeholder.
    pub fn param(&mut self, v: SqlValue) -> String {
        self.params.push(v);
        format!("?{}", self.params.len())
    }
}

/// A column that holds exactly an attribute's value (NULL when the attribute is absent).
#[derive(Debug)]
pub struct ExactColumn {
    /// Top-level attribute (core or common), canonical name.
    pub attr: &'static str,
    pub sub: Option<&'static str>,
    pub column: &'static str,
}

/// A column holding the Unicode case fold of a `caseExact=false` single-valued string
/// attribute (NULL when absent), with an index.
#[derive(Debug)]
pub struct FoldedColumn {
    pub attr: &'static str,
    pub column: &'static str,
}

/// A side table with one row per element of a multi-valued complex attribute that has a
/// `value`: the folded `value` (indexed) and optionally the folded `type`.
#[derive(Debug)]
pub struct ElementTable {
    pub attr: &'static str,
    pub table: &'static str,
    /// The side table's column holding the owner's `seq`.
    pub owner: &'static str,
    pub value_folded: &'static str,
    pub type_folded: Option<&'static str>,
    /// The attribute is not in the stored document but derived from another table (a group's
    /// `members`, a user's `groups`): filters may only compare its `value`, which the side
    /// table answers; anything else is a clear `invalidFilter` rather than a wrong answer.
    pub derived: bool,
}

/// How one resource type is stored: what the compiler needs to know about its table. A new
/// resource type (Groups) adds its own map beside [`users_map`] and lists through
/// [`crate::store::listing`]. The compiler assumes the returned resource is the document plus
/// `id`, `schemas` and `meta` (`resource::to_resource`); an attribute the resource gets from
/// elsewhere (a User's `groups`, derived from memberships) must be added to
/// `Compiler::resource_json` and `Compiler::resolve`, or filters on it see it absent.
#[derive(Debug)]
pub struct TableMap {
    pub rt: &'static ResourceType,
    /// Column expressions, qualified with the table alias used in the query.
    pub seq: &'static str,
    pub id: &'static str,
    pub doc: &'static str,
    pub created: &'static str,
    pub last_modified: &'static str,
    pub version: &'static str,
    pub exact: &'static [ExactColumn],
    pub folded: &'static [FoldedColumn],
    pub elements: &'static [ElementTable],
}

/// The `users u` table.
pub fn users_map() -> &'static TableMap {
    static MAP: LazyLock<TableMap> = LazyLock::new(|| TableMap {
        rt: schema::user(),
        seq: "u.seq",
        id: "u.id",
        doc: "u.doc",
        created: "u.created",
        last_modified: "u.last_modified",
        version: "u.version",
        exact: &[
            ExactColumn {
                attr: "id",
                sub: None,
                column: "u.id",
            },
            ExactColumn {
                attr: "externalId",
                sub: None,
                column: "u.external_id",
            },
            ExactColumn {
                attr: "meta",
                sub: Some("created"),
                column: "u.created",
            },
            ExactColumn {
                attr: "meta",
                sub: Some("lastModified"),
                column: "u.last_modified",
            },
        ],
        folded: &[
            FoldedColumn {
                attr: "userName",
                column: "u.user_name_folded",
            },
            FoldedColumn {
                attr: "displayName",
                column: "u.display_name_folded",
            },
        ],
        elements: &[
            ElementTable {
                attr: "emails",
                table: "user_emails",
                owner: "user_seq",
                value_folded: "value_folded",
                type_folded: Some("type_folded"),
                derived: false,
            },
            ElementTable {
                // User.groups, derived from memberships (migration 0005's view).
                attr: "groups",
                table: "user_group_values",
                owner: "user_seq",
                value_folded: "value_folded",
                type_folded: None,
                derived: true,
            },
        ],
    });
    &MAP
}

/// The `groups g` table. Members live in `group_members`; the view `group_member_values`
/// gives each member's id as its `value`.
pub fn groups_map() -> &'static TableMap {
    static MAP: LazyLock<TableMap> = LazyLock::new(|| TableMap {
        rt: schema::group(),
        seq: "g.seq",
        id: "g.id",
        doc: "g.doc",
        created: "g.created",
        last_modified: "g.last_modified",
        version: "g.version",
        exact: &[
            ExactColumn {
                attr: "id",
                sub: None,
                column: "g.id",
            },
            ExactColumn {
                attr: "externalId",
                sub: None,
                column: "g.external_id",
            },
            ExactColumn {
                attr: "meta",
                sub: Some("created"),
                column: "g.created",
            },
            ExactColumn {
                attr: "meta",
                sub: Some("lastModified"),
                column: "g.last_modified",
            },
        ],
        folded: &[FoldedColumn {
            attr: "displayName",
            column: "g.display_name_folded",
        }],
        elements: &[ElementTable {
            attr: "members",
            table: "group_member_values",
            owner: "group_seq",
            value_folded: "value_folded",
            type_folded: None,
            derived: true,
        }],
    });
    &MAP
}

/// Refuses filters and sorts on a derived attribute that its side table cannot answer.
fn check_derived(
    map: &TableMap,
    filter: Option<&Filter>,
    sort: Option<&AttrPath>,
) -> Result<(), ScimError> {
    let derived = |p: &AttrPath| -> Option<&'static str> {
        let core = p.urn.as_deref().is_none_or(is_core_urn);
        map.elements
            .iter()
            .find(|t| t.derived && core && t.attr.eq_ignore_ascii_case(&p.name))
            .map(|t| t.attr)
    };
    let refuse = |attr: &str| {
        ScimError::InvalidFilter(format!(
            "on '{attr}' only its value can be compared, e.g. {attr}[value eq \"…\"] or {attr}.value eq \"…\""
        ))
    };
    let value_cmp = |p: &AttrPath, v: &Value| {
        p.sub
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("value"))
            && !v.is_null()
    };
    fn walk(
        f: &Filter,
        check: &mut dyn FnMut(&Filter) -> Result<(), ScimError>,
    ) -> Result<(), ScimError> {
        check(f)?;
        match f {
            Filter::And(items) | Filter::Or(items) => items.iter().try_for_each(|i| walk(i, check)),
            Filter::Not(inner) => walk(inner, check),
            _ => Ok(()),
        }
    }
    let provisioning = |p: &AttrPath| {
        p.urn
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(schema::PROVISIONING_URN))
    };
    let refuse_ext = || {
        ScimError::InvalidFilter(format!(
            "the read-only extension {} cannot be filtered or sorted on",
            schema::PROVISIONING_URN
        ))
    };
    if let Some(f) = filter {
        walk(f, &mut |f| match f {
            Filter::Present(p) | Filter::Compare(p, _, _) | Filter::ValuePath { attr: p, .. }
                if provisioning(p) =>
            {
                Err(refuse_ext())
            }
            Filter::Present(p) => derived(p).map_or(Ok(()), |a| Err(refuse(a))),
            Filter::Compare(p, _, v) => match derived(p) {
                Some(a) if !value_cmp(p, v) => Err(refuse(a)),
                _ => Ok(()),
            },
            Filter::ValuePath { attr, filter } => match derived(attr) {
                None => Ok(()),
                Some(a) => {
                    let terms: Vec<&Filter> = match filter.as_ref() {
                        Filter::And(items) => items.iter().collect(),
                        other => vec![other],
                    };
                    let ok = terms.iter().all(|t| matches!(t, Filter::Compare(p, op, v)
                        if p.name.eq_ignore_ascii_case("value") && p.sub.is_none() && *op != CompareOp::Ne && !v.is_null()));
                    if ok { Ok(()) } else { Err(refuse(a)) }
                }
            },
            _ => Ok(()),
        })?;
    }
    if sort.is_some_and(provisioning) {
        return Err(refuse_ext());
    }
    if let Some(a) = sort.and_then(derived) {
        return Err(ScimError::InvalidValue(format!(
            "sortBy: '{a}' cannot be sorted on"
        )));
    }
    Ok(())
}

/// A compiled list query: the filter condition (None: no filter) and the sort key, sharing
/// `params`; more SQL may be appended with further numbered parameters.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    pub filter: Option<String>,
    pub sort: Option<SortKey>,
    pub params: Vec<SqlValue>,
}

/// An ORDER BY key: `expr` may be NULL ("no data", RFC 7644 §3.4.2.3) when `nullable`.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: String,
    pub nullable: bool,
    pub descending: bool,
}

/// The SQL dialect the compiler writes (issue 18 item 3): one walk of the filter, two ways of
/// spelling its pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `?N` placeholders, SQLite's JSON functions over JSON text, `scim_fold`/`scim_instant`
    /// registered from Rust.
    Sqlite,
    /// `$N` placeholders (typed with a cast: text, bigint or float8), jsonb operators and
    /// functions, `scim_fold`/`scim_instant` as SQL functions of the PostgreSQL schema
    /// (`store/pg/migrations`), text compared in the "C" collation (code-point order, as
    /// SQLite's BINARY). Not selectable yet: see `store::pg`.
    Postgres,
}

/// Compiles a filter and a sort for `map`. `location_prefix` is what `meta.location` is made
/// of (`{base_url}{endpoint}/`, followed by the id), so a filter on it agrees with what the
/// client is shown.
pub fn compile(
    map: &TableMap,
    location_prefix: &str,
    filter: Option<&Filter>,
    sort: Option<(&AttrPath, bool)>,
) -> Result<Compiled, ScimError> {
    compile_in(Dialect::Sqlite, map, location_prefix, filter, sort)
}

/// [`compile`] in `dialect`.
pub fn compile_in(
    dialect: Dialect,
    map: &TableMap,
    location_prefix: &str,
    filter: Option<&Filter>,
    sort: Option<(&AttrPath, bool)>,
) -> Result<Compiled, ScimError> {
    check_derived(map, filter, sort.map(|(p, _)| p))?;
    let mut c = Compiler {
        dialect,
        map,
        location_prefix,
        out: Condition::default(),
        resource_params: None,
        aliases: 0,
    };
    let filter = filter.map(|f| c.filter(f, None));
    let sort = sort
        .map(|(path, descending)| c.sort_key(path, descending))
        .transpose()?;
    Ok(Compiled {
        filter,
        sort,
        params: c.out.params,
    })
}

/// Compiles just a filter (tests and callers without sorting).
pub fn compile_filter(
    map: &TableMap,
    location_prefix: &str,
    filter: &Filter,
) -> Result<Condition, ScimError> {
    compile_filter_in(Dialect::Sqlite, map, location_prefix, filter)
}

/// [`compile_filter`] in `dialect`.
pub fn compile_filter_in(
    dialect: Dialect,
    map: &TableMap,
    location_prefix: &str,
    filter: &Filter,
) -> Result<Condition, ScimError> {
    let c = compile_in(dialect, map, location_prefix, Some(filter), None)?;
    let always = match dialect {
        Dialect::Sqlite => "1",
        Dialect::Postgres => "TRUE",
    };
    Ok(Condition {
        sql: c.filter.unwrap_or_else(|| always.into()),
        params: c.params,
    })
}

/// Registers `scim_instant(text)`: the RFC 3339 date-time as a fixed-width string whose order
/// is the order of the instants, or NULL if the text is not an RFC 3339 date-time.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "scim_instant",
        1,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(instant_key),
                _ => None,
            })
        },
    )
}

/// The sortable form of an RFC 3339 date-time: seconds since 1970 offset to be positive, then
/// nanoseconds, both zero-padded (RFC 3339 years 0000–9999 in any offset fit).
pub fn instant_key(s: &str) -> Option<String> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    let secs = t.unix_timestamp() + 1_000_000_000_000;
    Some(format!("{secs:013}.{:09}", t.nanosecond()))
}

/// The prefix of the core schema URNs: their attributes sit at the top level (RFC 7643 §3.3).
const CORE_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:";

fn is_core_urn(urn: &str) -> bool {
    urn.get(..CORE_URN_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CORE_URN_PREFIX))
}

/// `schemas` is not in any schema but is in every resource: a multi-valued string that the
/// evaluator compares as an unknown attribute (case-insensitive).
fn schemas_attr() -> &'static Attribute {
    static A: LazyLock<Attribute> =
        LazyLock::new(|| Attribute::string("schemas", "The resource's schema URNs.").multi());
    &A
}

/// Where a path's top-level attribute lives.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Src {
    /// The stored document column.
    Doc,
    /// The resource as returned (document plus `id`, `schemas`, `meta`), rebuilt in SQL.
    Resource,
}

struct Resolved {
    src: Src,
    /// JSON path of the top-level attribute, e.g. `$."emails"`.
    top: String,
    attr: &'static Attribute,
    /// True for core and common attributes (not an extension's).
    core: bool,
}

/// The value(s) a comparison looks at.
enum Leaves {
    None,
    /// One SQL value; NULL when absent.
    One(String, AttrInfo),
    /// Any of the rows of `from` (a table-valued expression with alias `alias`), value
    /// `value`.
    Each {
        from: String,
        alias: String,
        value: String,
        info: AttrInfo,
    },
}

/// Inside `attr[…]`: paths name members of the element `alias.value`.
#[derive(Clone, Copy)]
struct Element<'s> {
    alias: &'s str,
    attr: &'static Attribute,
}

struct Compiler<'a> {
    dialect: Dialect,
    map: &'a TableMap,
    location_prefix: &'a str,
    out: Condition,
    /// Placeholders of the resource rebuild: core URN, extension URNs, type name, location.
    resource_params: Option<Vec<String>>,
    aliases: usize,
}

fn json_path(parts: &[&str]) -> String {
    let mut p = String::from("$");
    for part in parts {
        debug_assert!(
            part.chars()
                .all(|c| c.is_ascii_alphanumeric() || "$:._-".contains(c))
        );
        p.push_str(&format!(".\"{part}\""));
    }
    p
}

/// A schema-defined JSON path (see [`json_path`]; also the unquoted `$.schemas`) as a
/// PostgreSQL `text[]` literal for `#>` / `#>>`, and as an SQL/JSON path literal.
fn pg_keys(path: &str) -> Vec<&str> {
    let mut keys = Vec::new();
    let mut rest = path.strip_prefix('$').unwrap_or(path);
    while let Some(r) = rest.strip_prefix('.') {
        if let Some(q) = r.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            keys.push(&q[..end]);
            rest = q.get(end + 1..).unwrap_or("");
        } else {
            let end = r.find('.').unwrap_or(r.len());
            keys.push(&r[..end]);
            rest = &r[end..];
        }
    }
    keys
}

fn pg_path(path: &str) -> String {
    let keys: Vec<String> = pg_keys(path).iter().map(|k| format!("\"{k}\"")).collect();
    lit(&format!("{{{}}}", keys.join(",")))
}

/// An SQL string literal of a schema-defined JSON path (see [`json_path`]).
fn lit(path: &str) -> String {
    format!("'{}'", path.replace('\'', "''"))
}

fn sql_op(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "",
    }
}

fn is_ordering(op: CompareOp) -> bool {
    !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
}

/// The smallest string greater than every string that starts with `prefix` (code point
/// order, which is SQLite's BINARY order of UTF-8), or None if there is none.
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// How a string leaf is read: a JSON value, a column with the exact value, or a column
/// with the folded value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StrSide {
    Value,
    ExactColumn,
    FoldedColumn,
}

impl Compiler<'_> {
    fn alias(&mut self, base: &str) -> String {
        self.aliases += 1;
        format!("{base}{}", self.aliases)
    }

    fn param(&mut self, v: SqlValue) -> String {
        match self.dialect {
            Dialect::Sqlite => self.out.param(v),
            Dialect::Postgres => {
                let cast = match v {
                    SqlValue::Integer(_) => "bigint",
                    SqlValue::Real(_) => "float8",
                    _ => "text",
                };
                self.out.params.push(v);
                format!("${}::{cast}", self.out.params.len())
            }
        }
    }

    /// A condition that never holds.
    fn no(&self) -> String {
        match self.dialect {
            Dialect::Sqlite => "0".into(),
            Dialect::Postgres => "FALSE".into(),
        }
    }

    /// NOT of a condition that may be NULL (NULL counts as false).
    fn not_true(&self, c: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("NOT IFNULL({c}, 0)"),
            Dialect::Postgres => format!("NOT COALESCE({c}, FALSE)"),
        }
    }

    /// The scalar at `path` of the JSON `src` (NULL when absent): on SQLite the SQL value,
    /// on PostgreSQL its text.
    fn extract(&self, src: &str, path: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("json_extract({src}, {})", lit(path)),
            Dialect::Postgres => format!("({src} #>> {})", pg_path(path)),
        }
    }

    /// The JSON of the element row `alias` (of [`Self::each`]).
    fn elem_json(&self, alias: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("{alias}.value"),
            Dialect::Postgres => format!("{alias}.j"),
        }
    }

    /// The rows of the array at `path` of `src`: columns `value` (the scalar), `type`
    /// (SQLite's or jsonb's type name), `key` (the position) and, on PostgreSQL, `j` (the
    /// element as jsonb).
    fn each(&self, src: &str, path: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("json_each({src}, {})", lit(path)),
            Dialect::Postgres => {
                let a = format!("({src} #> {})", pg_path(path));
                format!(
                    "(SELECT e.value AS j, e.value #>> '{{}}' AS value, jsonb_typeof(e.value) AS type, e.key AS key \
                     FROM jsonb_array_elements(CASE WHEN jsonb_typeof({a}) = 'array' THEN {a} ELSE '[]'::jsonb END) \
                     WITH ORDINALITY AS e(value, key))"
                )
            }
        }
    }

    /// Whether the element row `a` is a non-empty scalar (RFC 7643 §2.5 presence).
    fn elem_is_present(&self, a: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!(
                "({a}.type IN ('true', 'false', 'integer', 'real') OR ({a}.type = 'text' AND {a}.value <> ''))"
            ),
            Dialect::Postgres => format!(
                "({a}.type IN ('boolean', 'number') OR ({a}.type = 'string' AND {a}.value <> ''))"
            ),
        }
    }

    fn text(&mut self, s: impl Into<String>) -> String {
        self.param(SqlValue::Text(s.into()))
    }

    /// The SQL expression of the resource as returned to the client (RFC 7643 §3.1 `id`,
    /// `meta`, and `schemas` as `resource::schemas_of` lists them), as JSON text (jsonb on
    /// PostgreSQL).
    fn resource_json(&mut self) -> String {
        let m = self.map;
        let ps = match &self.resource_params {
            Some(ps) => ps.clone(),
            None => {
                let mut ps = vec![self.text(m.rt.core.id)];
                for (ext, _) in &m.rt.extensions {
                    ps.push(self.text(ext.id));
                }
                ps.push(self.text(m.rt.name));
                ps.push(self.text(self.location_prefix.to_owned()));
                self.resource_params = Some(ps.clone());
                ps
            }
        };
        if self.dialect == Dialect::Postgres {
            let mut schemas = format!("SELECT {} AS value", ps[0]);
            for (i, (ext, _)) in m.rt.extensions.iter().enumerate() {
                schemas.push_str(&format!(
                    " UNION ALL SELECT {} WHERE ({} -> {}) IS NOT NULL",
                    ps[i + 1],
                    m.doc,
                    lit(ext.id)
                ));
            }
            let n = ps.len();
            return format!(
                "({doc} || jsonb_build_object('id', {id}, 'schemas', (SELECT jsonb_agg(value) FROM ({schemas}) s), \
                 'meta', jsonb_build_object('resourceType', {rtname}, 'created', {created}, 'lastModified', {lm}, \
                 'location', {loc} || {id}, 'version', 'W/\"' || {version} || '\"')))",
                doc = m.doc,
                id = m.id,
                rtname = ps[n - 2],
                loc = ps[n - 1],
                created = m.created,
                lm = m.last_modified,
                version = m.version,
            );
        }
        let mut schemas = format!("SELECT {} AS value", ps[0]);
        for (i, (ext, _)) in m.rt.extensions.iter().enumerate() {
            schemas.push_str(&format!(
                " UNION ALL SELECT {} WHERE json_type({}, {}) IS NOT NULL",
                ps[i + 1],
                m.doc,
                lit(&json_path(&[ext.id]))
            ));
        }
        let n = ps.len();
        format!(
            "json_set({doc}, '$.id', {id}, '$.schemas', json((SELECT json_group_array(value) FROM ({schemas}))), \
             '$.meta', json_object('resourceType', {rtname}, 'created', {created}, 'lastModified', {lm}, \
             'location', {loc} || {id}, 'version', 'W/\"' || {version} || '\"'))",
            doc = m.doc,
            id = m.id,
            rtname = ps[n - 2],
            loc = ps[n - 1],
            created = m.created,
            lm = m.last_modified,
            version = m.version,
        )
    }

    fn src(&mut self, src: Src) -> String {
        match src {
            Src::Doc => self.map.doc.to_owned(),
            Src::Resource => self.resource_json(),
        }
    }

    /// Resolves a path's top-level attribute as the evaluator finds it in the resource.
    fn resolve(&self, path: &AttrPath) -> Option<Resolved> {
        let rt = self.map.rt;
        let top_level = |name: &str| -> Option<Resolved> {
            if name.eq_ignore_ascii_case("schemas") {
                return Some(Resolved {
                    src: Src::Resource,
                    top: "$.schemas".into(),
                    attr: schemas_attr(),
                    core: true,
                });
            }
            let attr = rt
                .common
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(name))
                .or_else(|| rt.core.attr(name))?;
            let src = if attr.name == "id" || attr.name == "meta" {
                Src::Resource
            } else {
                Src::Doc
            };
            Some(Resolved {
                src,
                top: json_path(&[attr.name]),
                attr,
                core: true,
            })
        };
        let in_extension = |ext: &'static crate::scim::schema::Schema| {
            ext.attr(&path.name).map(|attr| Resolved {
                src: Src::Doc,
                top: json_path(&[ext.id, attr.name]),
                attr,
                core: false,
            })
        };
        match path.urn.as_deref() {
            Some(u) if is_core_urn(u) => top_level(&path.name),
            Some(u) => rt
                .extensions
                .iter()
                .map(|(s, _)| s)
                .find(|s| s.id.eq_ignore_ascii_case(u))
                .and_then(in_extension),
            None => top_level(&path.name)
                .or_else(|| rt.extensions.iter().find_map(|(s, _)| in_extension(s))),
        }
    }

    // ---- filters ----

    /// A condition that is 1 when the filter matches, and 0 or NULL when it does not.
    fn filter(&mut self, f: &Filter, el: Option<Element<'_>>) -> String {
        match f {
            Filter::And(items) | Filter::Or(items) => {
                let sep = if matches!(f, Filter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let parts: Vec<String> = items.iter().map(|i| self.filter(i, el)).collect();
                format!("({})", parts.join(sep))
            }
            Filter::Not(inner) => {
                let inner = self.filter(inner, el);
                self.not_true(&inner)
            }
            Filter::Present(path) => self.present(path, el),
            Filter::Compare(path, op, value) => self.compare(path, *op, value, el),
            Filter::ValuePath { attr, filter } => match el {
                // The parser rejects nested value paths; the evaluator says false.
                Some(_) => self.no(),
                None => self.value_path(attr, filter),
            },
        }
    }

    fn compare(
        &mut self,
        path: &AttrPath,
        op: CompareOp,
        value: &Value,
        el: Option<Element<'_>>,
    ) -> String {
        if value.is_null() {
            return match op {
                CompareOp::Eq => {
                    let present = self.present(path, el);
                    self.not_true(&present)
                }
                CompareOp::Ne => self.present(path, el),
                _ => self.no(),
            };
        }
        if op == CompareOp::Ne {
            let eq = self.compare(path, CompareOp::Eq, value, el);
            return self.not_true(&eq);
        }
        if el.is_none()
            && let Some(sql) = self.indexed_compare(path, op, value)
        {
            return sql;
        }
        match self.leaves(path, el) {
            Leaves::None => self.no(),
            Leaves::One(x, info) => self.leaf_cmp(&x, StrSide::Value, info, op, value),
            Leaves::Each {
                from,
                alias,
                value: x,
                info,
            } => {
                let cmp = self.leaf_cmp(&x, StrSide::Value, info, op, value);
                format!("EXISTS (SELECT 1 FROM {from} {alias} WHERE {cmp})")
            }
        }
    }

    /// A comparison served by an indexed column, if the path has one.
    fn indexed_compare(&mut self, path: &AttrPath, op: CompareOp, value: &Value) -> Option<String> {
        let r = self.resolve(path)?;
        if !r.core {
            return None;
        }
        let sub = match &path.sub {
            Some(s) => Some(r.attr.sub(s)?),
            None => None,
        };
        let map = self.map;
        if let Some(col) = map.folded.iter().find(|c| c.attr == r.attr.name)
            && sub.is_none()
            && !r.attr.case_exact
        {
            let info = r.attr.info();
            return Some(self.leaf_cmp(col.column, StrSide::FoldedColumn, info, op, value));
        }
        if let Some(col) = map
            .exact
            .iter()
            .find(|c| c.attr == r.attr.name && c.sub == sub.map(|s| s.name))
        {
            let info = sub.unwrap_or(r.attr).info();
            return Some(self.leaf_cmp(col.column, StrSide::ExactColumn, info, op, value));
        }
        let table = map.elements.iter().find(|t| t.attr == r.attr.name)?;
        // `emails op v` and `emails.value op v` compare each element's value.
        let value_attr = r.attr.sub("value")?;
        if sub.is_some_and(|s| s.name != "value") || value_attr.case_exact {
            return None;
        }
        let cmp = self.leaf_cmp(
            &format!("e.{}", table.value_folded),
            StrSide::FoldedColumn,
            value_attr.info(),
            op,
            value,
        );
        Some(format!(
            "{} IN (SELECT e.{} FROM {} e WHERE {cmp})",
            map.seq, table.owner, table.table
        ))
    }

    /// The values `path` names, as the evaluator's `leaves`.
    fn leaves(&mut self, path: &AttrPath, el: Option<Element<'_>>) -> Leaves {
        if let Some(el) = el {
            // Inside `attr[…]`, the path names a member of the element.
            if el.attr.kind == AttrKind::Complex {
                let Some(sa) = el.attr.sub(&path.name) else {
                    return Leaves::None;
                };
                let json = self.elem_json(el.alias);
                return Leaves::One(self.extract(&json, &json_path(&[sa.name])), sa.info());
            }
            return if path.name.eq_ignore_ascii_case("value") {
                Leaves::One(format!("{}.value", el.alias), el.attr.info())
            } else {
                Leaves::None
            };
        }
        let Some(r) = self.resolve(path) else {
            return Leaves::None;
        };
        let a = r.attr;
        let (member, info) = match (a.kind == AttrKind::Complex, &path.sub) {
            (false, Some(_)) => return Leaves::None,
            (false, None) => (None, a.info()),
            (true, None) if a.multi_valued => match a.sub("value") {
                Some(v) => (Some(v.name), v.info()),
                None => return Leaves::None,
            },
            // A single-valued complex attribute compared as a whole matches nothing.
            (true, None) => return Leaves::None,
            (true, Some(s)) => match a.sub(s) {
                Some(sa) => (Some(sa.name), sa.info()),
                None => return Leaves::None,
            },
        };
        let src = self.src(r.src);
        if a.multi_valued {
            let alias = self.alias("j");
            let value = match member {
                Some(m) => self.extract(&self.elem_json(&alias), &json_path(&[m])),
                None => format!("{alias}.value"),
            };
            Leaves::Each {
                from: self.each(&src, &r.top),
                alias,
                value,
                info,
            }
        } else {
            let path = match member {
                Some(m) => format!("{}.\"{m}\"", r.top),
                None => r.top.clone(),
            };
            Leaves::One(self.extract(&src, &path), info)
        }
    }

    /// RFC 7643 §2.5 presence, as the evaluator's `is_present`: some scalar below is not
    /// null and not "".
    fn present(&mut self, path: &AttrPath, el: Option<Element<'_>>) -> String {
        if let Some(el) = el {
            if el.attr.kind == AttrKind::Complex {
                return match el.attr.sub(&path.name) {
                    Some(sa) => {
                        let src = self.elem_json(el.alias);
                        self.present_json(&src, &json_path(&[sa.name]))
                    }
                    None => self.no(),
                };
            }
            if !path.name.eq_ignore_ascii_case("value") {
                return self.no();
            }
            return self.elem_is_present(el.alias);
        }
        let Some(r) = self.resolve(path) else {
            return self.no();
        };
        let a = r.attr;
        match (&path.sub, a.kind == AttrKind::Complex) {
            (None, _) => {
                let src = self.src(r.src);
                self.present_json(&src, &r.top)
            }
            (Some(_), false) => self.no(),
            (Some(s), true) => {
                let Some(sa) = a.sub(s) else {
                    return self.no();
                };
                let src = self.src(r.src);
                if a.multi_valued {
                    let alias = self.alias("j");
                    let inner = self.present_json(&self.elem_json(&alias), &json_path(&[sa.name]));
                    format!(
                        "EXISTS (SELECT 1 FROM {} {alias} WHERE {inner})",
                        self.each(&src, &r.top)
                    )
                } else {
                    self.present_json(&src, &format!("{}.\"{}\"", r.top, sa.name))
                }
            }
        }
    }

    fn present_json(&mut self, src: &str, path: &str) -> String {
        if self.dialect == Dialect::Postgres {
            // Every scalar at or below the path (`.**` includes the node itself).
            let keys: Vec<String> = pg_keys(path).iter().map(|k| format!(".\"{k}\"")).collect();
            let jp = format!(
                "${}.** ? (@.type() == \"boolean\" || @.type() == \"number\" || (@.type() == \"string\" && @ != \"\"))",
                keys.concat()
            );
            return format!("jsonb_path_exists({src}, {}::jsonpath)", lit(&jp));
        }
        let t = self.alias("t");
        format!(
            "EXISTS (SELECT 1 FROM json_tree({src}, {}) {t} WHERE {t}.type IN ('true', 'false', 'integer', 'real') OR ({t}.type = 'text' AND {t}.atom <> ''))",
            lit(path)
        )
    }

    fn value_path(&mut self, attr: &AttrPath, inner: &Filter) -> String {
        let Some(r) = self.resolve(attr) else {
            return self.no();
        };
        if let Some(sql) = self.indexed_value_path(&r, inner) {
            return sql;
        }
        let src = self.src(r.src);
        let alias = self.alias("j");
        let from = if r.attr.multi_valued {
            self.each(&src, &r.top)
        } else if self.dialect == Dialect::Postgres {
            let p = pg_path(&r.top);
            format!(
                "(SELECT {src} #> {p} AS j, {src} #>> {p} AS value, jsonb_typeof({src} #> {p}) AS type)"
            )
        } else {
            // A single-valued attribute is one element (e.g. `name[givenName eq "x"]`).
            format!(
                "(SELECT json_extract({src}, {p}) AS value, json_type({src}, {p}) AS type)",
                p = lit(&r.top)
            )
        };
        let cond = self.filter(
            inner,
            Some(Element {
                alias: &alias,
                attr: r.attr,
            }),
        );
        format!(
            "EXISTS (SELECT 1 FROM {from} {alias} WHERE {alias}.type IS NOT NULL AND {alias}.type <> 'null' AND {cond})"
        )
    }

    /// `emails[type eq "work" and value eq "x"]` through the element table: when the inner
    /// filter is comparisons on `value` and `type` joined with `and`, one of them on `value`
    /// (elements without a value have no row).
    fn indexed_value_path(&mut self, r: &Resolved, inner: &Filter) -> Option<String> {
        if !r.core {
            return None;
        }
        let table = self.map.elements.iter().find(|t| t.attr == r.attr.name)?;
        let terms: Vec<&Filter> = match inner {
            Filter::And(items) => items.iter().collect(),
            other => vec![other],
        };
        let mut has_value = false;
        let mut checks = Vec::new();
        for t in &terms {
            let Filter::Compare(p, op, v) = t else {
                return None;
            };
            if *op == CompareOp::Ne || v.is_null() {
                return None;
            }
            let (column, sa) = if p.name.eq_ignore_ascii_case("value") {
                has_value = true;
                (table.value_folded, r.attr.sub("value")?)
            } else if p.name.eq_ignore_ascii_case("type") {
                (table.type_folded?, r.attr.sub("type")?)
            } else {
                return None;
            };
            if sa.case_exact {
                return None;
            }
            checks.push((format!("e.{column}"), sa.info(), *op, (*v).clone()));
        }
        if !has_value {
            return None;
        }
        let conds: Vec<String> = checks
            .into_iter()
            .map(|(col, info, op, v)| self.leaf_cmp(&col, StrSide::FoldedColumn, info, op, &v))
            .collect();
        Some(format!(
            "{} IN (SELECT e.{} FROM {} e WHERE {})",
            self.map.seq,
            table.owner,
            table.table,
            conds.join(" AND ")
        ))
    }

    /// One value `x` (SQL; NULL when absent) against the filter's `value` (never null, op
    /// never `ne`), as the evaluator's `compare_one`.
    fn leaf_cmp(
        &mut self,
        x: &str,
        side: StrSide,
        info: AttrInfo,
        op: CompareOp,
        value: &Value,
    ) -> String {
        match info.kind {
            AttrKind::String | AttrKind::Reference => match value {
                Value::String(s) => self.string_cmp(x, side, info.case_exact, op, s),
                _ => self.no(),
            },
            AttrKind::Binary => match value {
                Value::String(s) if op == CompareOp::Eq => {
                    self.string_cmp(x, side, info.case_exact, op, s)
                }
                _ => self.no(),
            },
            AttrKind::Boolean => match value {
                Value::Bool(b) if op == CompareOp::Eq => match self.dialect {
                    Dialect::Sqlite => {
                        let p = self.param(SqlValue::Integer(i64::from(*b)));
                        format!("{x} = {p}")
                    }
                    // The JSON text of the value: `true` or `false`.
                    Dialect::Postgres => {
                        let p = self.text(b.to_string());
                        format!("{x} = {p}")
                    }
                },
                _ => self.no(),
            },
            AttrKind::Integer | AttrKind::Decimal => match value.as_f64() {
                Some(n) if is_ordering(op) => {
                    let p = self.param(SqlValue::Real(n));
                    match self.dialect {
                        Dialect::Sqlite => format!("CAST({x} AS REAL) {} {p}", sql_op(op)),
                        Dialect::Postgres => format!("CAST({x} AS float8) {} {p}", sql_op(op)),
                    }
                }
                _ => self.no(),
            },
            AttrKind::DateTime => match value {
                Value::String(s) => {
                    let as_string = self.string_cmp(x, side, info.case_exact, op, s);
                    match instant_key(s) {
                        Some(k) if is_ordering(op) => {
                            let p = self.text(k);
                            format!(
                                "(CASE WHEN scim_instant({x}) IS NOT NULL THEN scim_instant({x}) {} {p} ELSE {as_string} END)",
                                sql_op(op)
                            )
                        }
                        _ => as_string,
                    }
                }
                _ => self.no(),
            },
            AttrKind::Complex => self.no(),
        }
    }

    fn string_cmp(
        &mut self,
        x: &str,
        side: StrSide,
        case_exact: bool,
        op: CompareOp,
        s: &str,
    ) -> String {
        let (lhs, rhs) = match side {
            StrSide::FoldedColumn => (x.to_owned(), fold(s)),
            _ if case_exact => (x.to_owned(), s.to_owned()),
            _ => (format!("scim_fold({x})"), fold(s)),
        };
        // Only a bare column may use its index.
        let indexed = side != StrSide::Value && (case_exact || side == StrSide::FoldedColumn);
        let n = rhs.chars().count() as i64;
        match op {
            CompareOp::Co => {
                if n == 0 {
                    return format!("({lhs} IS NOT NULL)");
                }
                let p = self.text(rhs);
                match self.dialect {
                    Dialect::Sqlite => format!("instr({lhs}, {p}) > 0"),
                    Dialect::Postgres => format!("strpos({lhs}, {p}) > 0"),
                }
            }
            CompareOp::Sw => {
                if n == 0 {
                    return format!("({lhs} IS NOT NULL)");
                }
                if indexed {
                    let upper = prefix_upper_bound(&rhs);
                    let p = self.text(rhs);
                    return match upper {
                        Some(u) => {
                            let q = self.text(u);
                            format!("({lhs} >= {p} AND {lhs} < {q})")
                        }
                        None => format!("substr({lhs}, 1, length({p})) = {p}"),
                    };
                }
                let p = self.text(rhs);
                let l = self.param(SqlValue::Integer(n));
                match self.dialect {
                    Dialect::Sqlite => format!("substr({lhs}, 1, {l}) = {p}"),
                    Dialect::Postgres => format!("left({lhs}, CAST({l} AS int)) = {p}"),
                }
            }
            CompareOp::Ew => {
                if n == 0 {
                    return format!("({lhs} IS NOT NULL)");
                }
                let p = self.text(rhs);
                let l = self.param(SqlValue::Integer(n));
                match self.dialect {
                    Dialect::Sqlite => {
                        format!("(length({lhs}) >= {l} AND substr({lhs}, -{l}) = {p})")
                    }
                    Dialect::Postgres => {
                        format!("(length({lhs}) >= {l} AND right({lhs}, CAST({l} AS int)) = {p})")
                    }
                }
            }
            _ => {
                let p = self.text(rhs);
                match self.dialect {
                    Dialect::Sqlite => format!("{lhs} {} {p}", sql_op(op)),
                    // Code-point order, as SQLite's BINARY, whatever the database's collation.
                    Dialect::Postgres => format!("{lhs} {} {p} COLLATE \"C\"", sql_op(op)),
                }
            }
        }
    }

    // ---- sorting ----

    /// [`key_of`] in the compiler's dialect: on PostgreSQL, where a JSON value is read as
    /// text, numbers sort as numbers and text in code-point order (SQLite's BINARY).
    fn key_of(&self, x: &str, a: &Attribute) -> String {
        match (self.dialect, a.kind) {
            (Dialect::Sqlite, _) | (Dialect::Postgres, AttrKind::Boolean) => key_of(x, a),
            (Dialect::Postgres, AttrKind::Integer | AttrKind::Decimal) => {
                format!("CAST({x} AS float8)")
            }
            (Dialect::Postgres, _) => format!("({}) COLLATE \"C\"", key_of(x, a)),
        }
    }

    /// The ORDER BY key of `sortBy` (RFC 7644 §3.4.2.3): a singular attribute's value, or for
    /// a multi-valued attribute the primary value if any, else the first; strings folded
    /// unless `caseExact`.
    fn sort_key(&mut self, path: &AttrPath, descending: bool) -> Result<SortKey, ScimError> {
        let r = self.resolve(path).ok_or_else(|| {
            ScimError::InvalidValue(format!(
                "sortBy: '{path}' is not an attribute of {}",
                self.map.rt.name
            ))
        })?;
        let a = r.attr;
        let sub = match (&path.sub, a.kind == AttrKind::Complex) {
            (Some(s), true) => Some(a.sub(s).ok_or_else(|| {
                ScimError::InvalidValue(format!("sortBy: '{path}' is not an attribute"))
            })?),
            (Some(_), false) => {
                return Err(ScimError::InvalidValue(format!(
                    "sortBy: '{}' has no sub-attributes",
                    a.name
                )));
            }
            (None, true) if a.multi_valued => a.sub("value"),
            (None, false) => None,
            (None, true) => None,
        };
        if a.kind == AttrKind::Complex && sub.is_none() {
            return Err(ScimError::InvalidValue(format!(
                "sortBy: '{}' is complex; sort by one of its sub-attributes, e.g. '{}.{}'",
                a.name,
                a.name,
                a.sub_attributes.first().map_or("value", |s| s.name)
            )));
        }
        let leaf = sub.unwrap_or(a);
        if r.core
            && sub.is_none()
            && let Some(col) = self.map.folded.iter().find(|c| c.attr == a.name)
        {
            return Ok(SortKey {
                expr: col.column.to_owned(),
                // A required attribute is never NULL: the ORDER BY can use the index.
                nullable: !a.required,
                descending,
            });
        }
        if r.core
            && let Some(col) = self
                .map
                .exact
                .iter()
                .find(|c| c.attr == a.name && c.sub == sub.map(|s| s.name))
        {
            return Ok(SortKey {
                expr: self.key_of(col.column, leaf),
                nullable: true,
                descending,
            });
        }
        let src = self.src(r.src);
        let expr = if a.multi_valued {
            let j = self.alias("j");
            let json = self.elem_json(&j);
            let (value, primary_first) = match sub {
                Some(s) => (
                    self.extract(&json, &json_path(&[s.name])),
                    match (a.sub("primary").is_some(), self.dialect) {
                        (false, _) => String::new(),
                        (true, Dialect::Sqlite) => {
                            format!("json_extract({json}, '$.\"primary\"') IS 1 DESC, ")
                        }
                        (true, Dialect::Postgres) => {
                            format!("COALESCE({json} -> 'primary' = 'true'::jsonb, FALSE) DESC, ")
                        }
                    },
                ),
                None => (format!("{j}.value"), String::new()),
            };
            format!(
                "(SELECT {} FROM {} {j} ORDER BY {primary_first}{j}.key LIMIT 1)",
                self.key_of(&value, leaf),
                self.each(&src, &r.top)
            )
        } else {
            let p = match sub {
                Some(s) => format!("{}.\"{}\"", r.top, s.name),
                None => r.top.clone(),
            };
            let x = self.extract(&src, &p);
            self.key_of(&x, leaf)
        };
        Ok(SortKey {
            expr,
            nullable: true,
            descending,
        })
    }
}

/// The sortable form of a value of attribute `a`.
fn key_of(x: &str, a: &Attribute) -> String {
    match a.kind {
        AttrKind::String | AttrKind::Reference | AttrKind::Binary if !a.case_exact => {
            format!("scim_fold({x})")
        }
        AttrKind::DateTime => format!("COALESCE(scim_instant({x}), {x})"),
        _ => x.to_owned(),
    }
}

#[cfg(test)]
mod tests;
