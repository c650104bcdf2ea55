//! Breaking changes between two OpenAPI documents.
//!
//! [`breaking_changes`] compares an old and a new OpenAPI 3.1 document and lists
//! what would break a client written against the old one: removed paths and
//! operations, stricter inputs (parameters, request bodies) and looser outputs
//! (success responses). Schemas are compared in one of two directions: what the
//! server *accepts* may only widen, what it *returns* may only narrow.
//!
//! Local `$ref`s (`#/components/...`) are followed in both documents, cycles
//! included. A schema behind an external or dangling `$ref` is not judged.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

/// One change that breaks existing clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakingChange {
    /// Where: e.g. `GET /api/questions/` or `GET /api/questions/ response 200 .results[].question_text`.
    pub location: String,
    /// What changed, in words a developer understands.
    pub message: String,
}

impl fmt::Display for BreakingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// The changes from `old` to `new` that break clients written against `old`, in a stable order (sorted by location then message).
pub fn breaking_changes(old: &Value, new: &Value) -> Vec<BreakingChange> {
    let mut diff = Diff {
        old,
        new,
        out: Vec::new(),
        stack: Vec::new(),
    };
    diff.paths();
    let mut out = diff.out;
    out.sort_by(|a, b| (&a.location, &a.message).cmp(&(&b.location, &b.message)));
    // One schema problem seen through two media types reads as one change.
    out.dedup();
    out
}

/// Bounds whose decrease (or appearance) refuses inputs that used to be accepted.
const UPPER_BOUNDS: &str = "maxLength maxItems maxProperties maximum exclusiveMaximum";
/// Bounds whose increase (or appearance) refuses inputs that used to be accepted.
const LOWER_BOUNDS: &str = "minLength minItems minProperties minimum exclusiveMinimum";
/// Whether a bound moved inwards, given its old and new values.
type Tighter = fn(f64, f64) -> bool;

/// The operation keys of a path item.
const METHODS: &str = "get put post delete options head patch trace";

/// Which way data flows through a schema, which decides what "breaking" means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    /// Sent by clients: the new schema must accept everything the old one did.
    Input,
    /// Read by clients: the new schema must promise everything the old one did.
    Output,
}

impl Dir {
    /// How a narrowed input or widened output reads, and how a dropped media type does.
    fn words(self) -> (&'static str, &'static str) {
        match self {
            Dir::Input => ("no longer accepts", "accepted"),
            Dir::Output => ("may now be", "returned"),
        }
    }
}

/// The comparison in progress.
///
/// Locations of schemas end in a space (`"POST /q/ request body "`) so that a nested
/// property is just appended (`"... body .choices[].votes"`); `report` trims it.
struct Diff<'a> {
    old: &'a Value,
    new: &'a Value,
    out: Vec<BreakingChange>,
    /// Schema pairs being compared further up the call stack: meeting one again
    /// means a recursive schema (e.g. a tree node), whose body is already covered.
    stack: Vec<(*const Value, *const Value)>,
}

impl<'a> Diff<'a> {
    fn report(&mut self, location: &str, message: impl Into<String>) {
        let location = location.trim_end().to_owned();
        self.out.push(BreakingChange {
            location,
            message: message.into(),
        });
    }

    fn paths(&mut self) {
        let new_paths = path_map(self.new);
        for (key, (old_template, old_item)) in path_map(self.old) {
            let Some(&(new_template, new_item)) = new_paths.get(&key) else {
                self.report(old_template, "path removed");
                continue;
            };
            let methods =
                entries(Some(old_item)).filter(|(m, _)| METHODS.split(' ').any(|x| x == *m));
            for (method, old_op) in methods {
                let loc = format!("{} {old_template}", method.to_uppercase());
                let Some(new_op) = new_item.get(method) else {
                    self.report(&loc, "operation removed");
                    continue;
                };
                let old_params = parameters(self.old, old_template, old_item, old_op);
                let new_params = parameters(self.new, new_template, new_item, new_op);
                self.parameters(&loc, &old_params, &new_params);
                self.request_body(&loc, old_op, new_op);
                self.responses(&loc, old_op, new_op);
            }
        }
    }

    fn parameters(&mut self, loc: &str, old: &Params<'a>, new: &Params<'a>) {
        // Estate refuses query parameters it does not know (400), so a
        // filter or option that goes away breaks the clients that send it.
        for (key, &old_param) in old {
            if key.0 == "query" && !new.contains_key(key) {
                let name = str_at(old_param, "name").unwrap_or_default();
                self.report(
                    &format!("{loc} query parameter {name} "),
                    "parameter removed (clients sending it now get 400)",
                );
            }
        }
        for (key, &new_param) in new {
            let name = str_at(new_param, "name").unwrap_or_default();
            let loc = format!("{loc} {} parameter {name} ", key.0);
            let Some(&old_param) = old.get(key) else {
                if param_required(new_param) {
                    self.report(&loc, "new required parameter");
                }
                continue;
            };
            if param_required(new_param) && !param_required(old_param) {
                self.report(&loc, "parameter became required");
            }
            if let (Some(old), Some(new)) = (old_param.get("schema"), new_param.get("schema")) {
                self.schema(old, new, Dir::Input, &loc);
            }
        }
    }

    fn request_body(&mut self, loc: &str, old_op: &'a Value, new_op: &'a Value) {
        let old = old_op.get("requestBody").and_then(|b| resolve(self.old, b));
        let new = new_op.get("requestBody").and_then(|b| resolve(self.new, b));
        let loc = format!("{loc} request body");
        if flag(new, "required") && !flag(old, "required") {
            self.report(&loc, "request body became required");
        }
        if let Some(old) = old {
            self.content(&loc, old, new, Dir::Input);
        }
    }

    fn responses(&mut self, loc: &str, old_op: &'a Value, new_op: &'a Value) {
        // Clients only parse success bodies; error responses may evolve freely.
        for (status, old) in entries(old_op.get("responses")).filter(|(s, _)| s.starts_with('2')) {
            let loc = format!("{loc} response {status}");
            let Some(new) = new_op.get("responses").and_then(|r| r.get(status)) else {
                self.report(&loc, "success response removed");
                continue;
            };
            if let (Some(old), Some(new)) = (resolve(self.old, old), resolve(self.new, new)) {
                self.content(&loc, old, Some(new), Dir::Output);
            }
        }
    }

    /// Compares the media types of a request body or response (`new` is `None` when
    /// the body is gone): each old media type must still be there, with a compatible schema.
    fn content(&mut self, loc: &str, old: &'a Value, new: Option<&'a Value>, dir: Dir) {
        for (media, old_media) in entries(old.get("content")) {
            let Some(new_media) = new.and_then(|n| n.get("content")?.get(media)) else {
                self.report(loc, format!("{media} no longer {}", dir.words().1));
                continue;
            };
            // JSON is the usual case; other media types are named to keep their reports apart.
            let loc = match media.as_str() {
                "application/json" => format!("{loc} "),
                _ => format!("{loc} [{media}] "),
            };
            if let (Some(old), Some(new)) = (old_media.get("schema"), new_media.get("schema")) {
                self.schema(old, new, dir, &loc);
            }
        }
    }

    fn schema(&mut self, old: &'a Value, new: &'a Value, dir: Dir, loc: &str) {
        let (Some(old), Some(new)) = (resolve(self.old, old), resolve(self.new, new)) else {
            return;
        };
        let pair = (old as *const Value, new as *const Value);
        if self.stack.contains(&pair) {
            return;
        }
        self.stack.push(pair);
        let (o, n) = (View::new(self.old, old), View::new(self.new, new));
        let types = [o.types(0), n.types(0)];
        self.narrowed(
            loc,
            dir,
            "type",
            types.each_ref().map(Option::as_deref),
            covers,
        );
        if o.members().is_some() || n.members().is_some() {
            self.union_members(&o, &n, dir, loc);
        } else {
            let enums = [o.array("enum"), n.array("enum")];
            self.narrowed(loc, dir, "enum", enums, <[Value]>::contains);
            match dir {
                Dir::Input => self.input_keywords(&o, &n, loc),
                Dir::Output => self.output_keywords(&o, &n, loc),
            }
            self.children(&o, &n, dir, loc);
        }
        self.stack.pop();
    }

    /// Reports values (types or enum members) that an input no longer accepts or an
    /// output may now produce. `None` means "anything"; `has(set, v)`: `v` is allowed.
    fn narrowed<T: fmt::Display>(
        &mut self,
        loc: &str,
        dir: Dir,
        what: &str,
        [old, new]: [Option<&[T]>; 2],
        has: fn(&[T], &T) -> bool,
    ) {
        // Inputs must still allow every old value; outputs may only produce old values.
        let (from, to) = match dir {
            Dir::Input => (old, new),
            Dir::Output => (new, old),
        };
        let extra = match (from, to) {
            (_, None) => return,
            (None, Some(_)) => "other values".to_owned(),
            (Some(from), Some(to)) => join(from.iter().filter(|v| !has(to, v))),
        };
        if !extra.is_empty() {
            let [old, new] = [old, new].map(|side| side.map_or("any".into(), |s| join(s.iter())));
            let message = format!("{} {extra} ({what} was {old}, now {new})", dir.words().0);
            self.report(loc, message);
        }
    }

    /// Pairs each old union member with its counterpart in the new union (same
    /// `$ref`, else same types) and compares the pairs. A schema that is not a union
    /// counts as a union of itself, so `Q` → `Q | null` still compares `Q` with `Q`.
    fn union_members(&mut self, o: &View<'a>, n: &View<'a>, dir: Dir, loc: &str) {
        let new_doc = self.new;
        let new_members = n.members_or_self();
        let new_types: Vec<_> = new_members.iter().map(|m| types_of(new_doc, m)).collect();
        for old_member in o.members_or_self() {
            let old_ref = old_member.get("$ref");
            let by_ref = new_members
                .iter()
                .position(|m| old_ref.is_some() && m.get("$ref") == old_ref);
            let old_types = types_of(self.old, old_member);
            let by_types = || {
                new_types
                    .iter()
                    .position(|t| old_types.is_some() && *t == old_types)
            };
            if let Some(i) = by_ref.or_else(by_types) {
                self.schema(old_member, new_members[i], dir, loc);
            }
        }
    }

    fn input_keywords(&mut self, o: &View<'a>, n: &View<'a>, loc: &str) {
        let new_props = n.props();
        for &name in n.required().difference(&o.required()) {
            // The server fills read-only properties itself; clients never send them.
            let read_only = new_props
                .get(name)
                .is_some_and(|p| prop_flag(self.new, p, "readOnly"));
            if !read_only {
                self.report(&format!("{loc}.{name}"), "property is now required");
            }
        }
        if n.get("additionalProperties") == Some(&Value::Bool(false)) {
            let removed = o
                .props()
                .into_keys()
                .filter(|name| !new_props.contains_key(name));
            for name in removed {
                let message = "property removed while additionalProperties is false: clients sending it are refused";
                self.report(&format!("{loc}.{name}"), message);
            }
            if o.get("additionalProperties").is_some_and(|a| a != false) {
                self.report(loc, "additional properties no longer accepted");
            }
        }
        for key in UPPER_BOUNDS.split(' ') {
            self.bound(o, n, loc, key, |old, new| new < old);
        }
        for key in LOWER_BOUNDS.split(' ') {
            self.bound(o, n, loc, key, |old, new| new > old);
        }
        self.keyword(o, n, loc, "pattern", Dir::Input);
        self.keyword(o, n, loc, "format", Dir::Input);
    }

    /// Reports a numeric bound that appeared, or moved so that `tighter(old, new)`.
    fn bound(&mut self, o: &View<'a>, n: &View<'a>, loc: &str, key: &str, tighter: Tighter) {
        // 3.0's boolean `exclusiveMaximum` modifies `maximum` and is no bound itself.
        let (old, new) = (
            o.get(key).and_then(Value::as_f64),
            n.get(key).and_then(Value::as_f64),
        );
        let message = match (old, new) {
            (None, Some(new)) => format!("{key} {new} added"),
            (Some(old), Some(new)) if tighter(old, new) => {
                format!("{key} changed from {old} to {new}")
            }
            _ => return,
        };
        self.report(loc, message);
    }

    /// Reports `key` changing, or appearing on the side where it restricts values:
    /// the new schema for inputs, the old one (a promise readers relied on) for outputs.
    fn keyword(&mut self, o: &View<'a>, n: &View<'a>, loc: &str, key: &str, dir: Dir) {
        let message = match (o.get(key), n.get(key)) {
            (Some(old), Some(new)) if old != new => format!("{key} changed from {old} to {new}"),
            (None, Some(new)) if dir == Dir::Input => format!("{key} {new} added"),
            (Some(old), None) if dir == Dir::Output => format!("{key} {old} removed"),
            _ => return,
        };
        self.report(loc, message);
    }

    fn output_keywords(&mut self, o: &View<'a>, n: &View<'a>, loc: &str) {
        let (new_props, old_required, new_required) = (n.props(), o.required(), n.required());
        for (name, prop) in o.props() {
            let loc = format!("{loc}.{name}");
            // Write-only properties (e.g. passwords) never appeared in responses.
            if prop_flag(self.old, prop, "writeOnly") {
                continue;
            } else if !new_props.contains_key(name) {
                self.report(&loc, "property removed");
            } else if old_required.contains(name) && !new_required.contains(name) {
                self.report(
                    &loc,
                    "property no longer required: readers may find it missing",
                );
            }
        }
        self.keyword(o, n, loc, "format", Dir::Output);
    }

    /// Recurses into what both schemas describe: shared properties, array items and
    /// schema-valued `additionalProperties` (map values).
    fn children(&mut self, o: &View<'a>, n: &View<'a>, dir: Dir, loc: &str) {
        let new_props = n.props();
        for (name, old_prop) in o.props() {
            if let Some(new_prop) = new_props.get(name) {
                self.schema(old_prop, new_prop, dir, &format!("{loc}.{name}"));
            }
        }
        if let (Some(old), Some(new)) = (o.get("items"), n.get("items")) {
            self.schema(old, new, dir, &format!("{loc}[]"));
        }
        let (old, new) = (o.get("additionalProperties"), n.get("additionalProperties"));
        if let (Some(old @ Value::Object(_)), Some(new @ Value::Object(_))) = (old, new) {
            self.schema(old, new, dir, &format!("{loc}.*"));
        }
    }
}

/// Parameters of one operation keyed by (`in`, name); path parameters are keyed by
/// their position in the template instead, since renaming `{id}` changes no URL.
type Params<'a> = BTreeMap<(String, String), &'a Value>;

fn parameters<'a>(doc: &'a Value, template: &str, item: &'a Value, op: &'a Value) -> Params<'a> {
    let mut params = Params::new();
    // Path-item parameters first, so that the operation's own ones override them.
    for param in list(item, "parameters").chain(list(op, "parameters")) {
        let Some(param) = resolve(doc, param) else {
            continue;
        };
        let (Some(place), Some(name)) = (str_at(param, "in"), str_at(param, "name")) else {
            continue;
        };
        let slot = template
            .split('{')
            .skip(1)
            .position(|s| s.split('}').next() == Some(name));
        let key = match slot {
            Some(index) if place == "path" => format!("{{{index}}}"),
            _ => name.to_owned(),
        };
        params.insert((place.to_owned(), key), param);
    }
    params
}

/// Path parameters are always required, whatever the document says.
fn param_required(param: &Value) -> bool {
    flag(Some(param), "required") || str_at(param, "in") == Some("path")
}

/// Path items keyed by their template with parameter names blanked (`/q/{}/`), so a
/// renamed path parameter still matches; the value keeps the original template.
fn path_map(doc: &Value) -> BTreeMap<String, (&str, &Value)> {
    let blank = |t: &str| {
        let pieces: Vec<_> = t
            .split('{')
            .map(|s| s.split_once('}').map_or(s, |(_, rest)| rest))
            .collect();
        pieces.join("{}")
    };
    let paths = entries(doc.get("paths"));
    paths
        .filter_map(|(t, item)| Some((blank(t), (t.as_str(), resolve(doc, item)?))))
        .collect()
}

/// The entries of a JSON object, none if the value is missing or no object.
fn entries(value: Option<&Value>) -> impl Iterator<Item = (&String, &Value)> {
    value.and_then(Value::as_object).into_iter().flatten()
}

/// The items of a JSON array, none if the value is missing or no array.
fn list<'v>(value: &'v Value, key: &str) -> impl Iterator<Item = &'v Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The JSON types a possibly `$ref`-ing schema allows (see [`View::types`]).
fn types_of<'a>(doc: &'a Value, schema: &'a Value) -> Option<Vec<&'a str>> {
    View::of(doc, schema)?.types(0)
}

/// Follows local `$ref`s, chains included. `None` for an external, dangling or
/// self-referencing ref: such a schema cannot be judged, so callers skip it.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> Option<&'a Value> {
    for _ in 0..32 {
        let Some(target) = value.get("$ref") else {
            return Some(value);
        };
        value = doc.pointer(target.as_str()?.strip_prefix('#')?)?;
    }
    None
}

fn str_at<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

fn flag(value: Option<&Value>, key: &str) -> bool {
    value.and_then(|v| v.get(key)) == Some(&Value::Bool(true))
}

/// A flag set on a property or on the schema its `$ref` points to.
fn prop_flag(doc: &Value, prop: &Value, key: &str) -> bool {
    flag(Some(prop), key) || flag(resolve(doc, prop), key)
}

/// Whether type `t` is among `types`; `integer` values are also `number`s.
fn covers(types: &[&str], t: &&str) -> bool {
    types.contains(t) || (*t == "integer" && types.contains(&"number"))
}

fn join<T: fmt::Display>(values: impl Iterator<Item = T>) -> String {
    let all: Vec<String> = values.map(|v| v.to_string()).collect();
    all.join(" | ")
}

/// A schema seen through its `allOf` parts: a keyword comes from the first part
/// that has it, `properties` and `required` from all parts together.
struct View<'a> {
    doc: &'a Value,
    parts: Vec<&'a Value>,
}

impl<'a> View<'a> {
    fn new(doc: &'a Value, schema: &'a Value) -> Self {
        let mut parts = vec![schema];
        let mut i = 0;
        // Breadth-first over nested `allOf`; skipping parts already seen stops cycles.
        while let Some(part) = parts.get(i) {
            let members: Vec<_> = list(part, "allOf")
                .filter_map(|m| resolve(doc, m))
                .collect();
            for member in members {
                if !parts.iter().any(|p| std::ptr::eq(*p, member)) {
                    parts.push(member);
                }
            }
            i += 1;
        }
        View { doc, parts }
    }

    /// The view of a possibly `$ref`-ing schema, `None` if the ref cannot be followed.
    fn of(doc: &'a Value, schema: &'a Value) -> Option<Self> {
        resolve(doc, schema).map(|s| View::new(doc, s))
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.parts.iter().find_map(|p| p.get(key))
    }

    fn array(&self, key: &str) -> Option<&'a [Value]> {
        self.get(key).and_then(Value::as_array).map(Vec::as_slice)
    }

    fn props(&self) -> BTreeMap<&'a str, &'a Value> {
        // Reversed, so that where parts disagree the first one wins.
        let all = self
            .parts
            .iter()
            .rev()
            .flat_map(|p| entries(p.get("properties")));
        all.map(|(name, schema)| (name.as_str(), schema)).collect()
    }

    fn required(&self) -> BTreeSet<&'a str> {
        let all = self.parts.iter().flat_map(|p| list(p, "required"));
        all.filter_map(Value::as_str).collect()
    }

    /// The members of a `oneOf`/`anyOf` union, if this schema is one.
    fn members(&self) -> Option<&'a [Value]> {
        self.array("oneOf").or_else(|| self.array("anyOf"))
    }

    fn members_or_self(&self) -> Vec<&'a Value> {
        self.members()
            .map_or(vec![self.parts[0]], |m| m.iter().collect())
    }

    /// The JSON types a value may have, sorted; `None` when unconstrained (or
    /// unknowable). `depth` bounds unions that contain themselves.
    fn types(&self, depth: usize) -> Option<Vec<&'a str>> {
        let mut types: BTreeSet<&str> = match (self.get("type"), self.members()) {
            (Some(Value::String(t)), _) => BTreeSet::from([t.as_str()]),
            (Some(Value::Array(ts)), _) => ts.iter().filter_map(Value::as_str).collect(),
            (_, Some(members)) if depth < 16 => {
                let types = |m| View::of(self.doc, m)?.types(depth + 1);
                let all: Option<Vec<_>> = members.iter().map(types).collect();
                all?.into_iter().flatten().collect()
            }
            _ => return None,
        };
        // OpenAPI 3.0 spelled "or null" as a flag.
        if self.get("nullable") == Some(&Value::Bool(true)) {
            types.insert("null");
        }
        Some(types.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(paths: Value) -> Value {
        json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths})
    }

    /// The changes as `openapi --diff` prints them, one a line.
    fn diff(old: &Value, new: &Value) -> String {
        let changes = breaking_changes(old, new);
        let lines: Vec<_> = changes.iter().map(|c| c.to_string()).collect();
        lines.join("\n")
    }

    /// `GET /q/` with these parameters.
    fn params(list: Value) -> Value {
        doc(json!({"/q/": {"get": {"parameters": list, "responses": {}}}}))
    }

    /// `POST /q/` with an optional JSON request body of this schema.
    fn body(schema: Value) -> Value {
        let content = json!({"application/json": {"schema": schema}});
        doc(json!({"/q/": {"post": {"requestBody": {"content": content}}}}))
    }

    /// `GET /q/` answering 200 with a JSON body of this schema.
    fn response(schema: Value) -> Value {
        let content = json!({"application/json": {"schema": schema}});
        doc(json!({"/q/": {"get": {"responses": {"200": {"content": content}}}}}))
    }

    #[test]
    fn removed_paths_and_operations() {
        let old = doc(json!({"/a/": {"get": {}, "post": {}}, "/b/": {"get": {}}}));
        let new = doc(json!({"/a/": {"get": {}}, "/c/": {"get": {}}}));
        let expected = "/b/: path removed\nPOST /a/: operation removed";
        assert_eq!(diff(&old, &new), expected);
    }

    #[test]
    fn renamed_path_parameter_is_the_same_path() {
        let path = |name| json!({"get": {"parameters": [{"in": "path", "name": name}]}});
        let old = doc(json!({ "/q/{id}/": path("id") }));
        assert_eq!(diff(&old, &doc(json!({ "/q/{pk}/": path("pk") }))), "");
    }

    #[test]
    fn new_required_parameter() {
        let new = params(json!([
            {"in": "query", "name": "page", "required": true, "schema": {"type": "integer"}},
            {"in": "query", "name": "search", "schema": {"type": "string"}}
        ]));
        let expected = "GET /q/ query parameter page: new required parameter";
        assert_eq!(diff(&params(json!([])), &new), expected);
    }

    #[test]
    fn removed_query_parameter() {
        let old = params(json!([
            {"in": "query", "name": "search", "schema": {"type": "string"}},
            {"in": "header", "name": "x-trace", "schema": {"type": "string"}}
        ]));
        let expected =
            "GET /q/ query parameter search: parameter removed (clients sending it now get 400)";
        assert_eq!(diff(&old, &params(json!([]))), expected);
    }

    #[test]
    fn optional_parameter_becoming_required_merges_path_and_operation_levels() {
        let page = json!({"in": "query", "name": "page", "schema": {"type": "integer"}});
        let old = doc(json!({"/q/": {"parameters": [page], "get": {}}}));
        // The operation overrides the path-level `page`; a header is another parameter.
        let own = json!([
            {"in": "query", "name": "page", "required": true}, {"in": "header", "name": "page"}
        ]);
        let new = doc(json!({"/q/": {"parameters": [page], "get": {"parameters": own}}}));
        let expected = "GET /q/ query parameter page: parameter became required";
        assert_eq!(diff(&old, &new), expected);
    }

    #[test]
    fn parameter_schema_narrowed() {
        let param = |schema| params(json!([{"in": "query", "name": "n", "schema": schema}]));
        let old = param(json!({"type": "number"}));
        let new = param(json!({"type": "integer", "maximum": 10}));
        let expected = "\
GET /q/ query parameter n: maximum 10 added
GET /q/ query parameter n: no longer accepts number (type was number, now integer)";
        assert_eq!(diff(&old, &new), expected);
    }

    #[test]
    fn request_body_becoming_required() {
        let content = json!({"application/json": {}});
        let optional = json!({"post": {"requestBody": {"content": content}}});
        let required = json!({"post": {"requestBody": {"required": true, "content": content}}});
        let old = doc(json!({"/a/": {"post": {}}, "/b/": optional}));
        let new = doc(json!({"/a/": required, "/b/": required}));
        let expected = "\
POST /a/ request body: request body became required
POST /b/ request body: request body became required";
        assert_eq!(diff(&old, &new), expected);
    }

    #[test]
    fn request_media_type_no_longer_accepted() {
        let with = |content| doc(json!({"/q/": {"post": {"requestBody": {"content": content}}}}));
        let old = with(json!({"application/json": {}, "application/x-www-form-urlencoded": {}}));
        let new = with(json!({"application/json": {}}));
        let expected =
            "POST /q/ request body: application/x-www-form-urlencoded no longer accepted";
        assert_eq!(diff(&old, &new), expected);
    }

    #[test]
    fn request_body_schema_narrowed() {
        let old = body(json!({"type": "object", "additionalProperties": false,
            "required": ["text"], "properties": {
            "text": {"type": "string", "maxLength": 200}, "note": {"type": ["string", "null"]},
            "kind": {"enum": ["a", "b"]}, "tags": {"type": "array", "items": {"type": "string"}},
            "votes": {"type": "integer", "minimum": 0}, "when": {"format": "date"}, "code": {},
            "legacy": {}, "meta": {"type": "object", "additionalProperties": {"type": "string"}}}}));
        let new = body(json!({"type": "object", "additionalProperties": false,
            "required": ["text", "kind"], "properties": {
            "text": {"type": "string", "maxLength": 100}, "note": {"type": "string"},
            "kind": {"enum": ["a"]}, "tags": {"type": "array", "items": {"minLength": 1}, "maxItems": 5},
            "votes": {"type": "integer", "minimum": 1}, "when": {"format": "date-time"},
            "code": {"pattern": "^[A-Z]+$"}, "meta": {"type": "object", "additionalProperties": false}}}));
        let expected = r#"POST /q/ request body .code: pattern "^[A-Z]+$" added
POST /q/ request body .kind: no longer accepts "b" (enum was "a" | "b", now "a")
POST /q/ request body .kind: property is now required
POST /q/ request body .legacy: property removed while additionalProperties is false: clients sending it are refused
POST /q/ request body .meta: additional properties no longer accepted
POST /q/ request body .note: no longer accepts null (type was null | string, now string)
POST /q/ request body .tags: maxItems 5 added
POST /q/ request body .tags[]: minLength 1 added
POST /q/ request body .text: maxLength changed from 200 to 100
POST /q/ request body .votes: minimum changed from 0 to 1
POST /q/ request body .when: format changed from "date" to "date-time""#;
        assert_eq!(diff(&old, &new), expected);
    }

    #[test]
    fn success_response_removed_or_media_type_dropped() {
        let get = |responses| json!({"get": {"responses": responses}});
        let old = doc(json!({"/a/": get(json!({"200": {}, "404": {}})),
            "/b/": get(json!({"200": {"content": {"application/json": {}, "application/xml": {}}}}))}));
        let new = doc(json!({"/a/": get(json!({"201": {}})),
            "/b/": get(json!({"200": {"content": {"application/json": {}}}}))}));
        let expected = "\
GET /a/ response 200: success response removed
GET /b/ response 200: application/xml no longer returned";
        assert_eq!(diff(&old, &new), expected);
    }

    #[test]
    fn response_schema_changes_that_break_readers() {
        let old = response(
            json!({"type": "object", "required": ["id", "question_text", "status"],
            "properties": {"id": {"type": "integer"}, "question_text": {"type": "string"},
            "status": {"enum": ["open", "closed"]}, "pub_date": {"format": "date-time"},
            "score": {"type": "integer"}, "votes": {"type": "integer"}, "legacy": {},
            "password": {"type": "string", "writeOnly": true}}}),
        );
        let new = response(json!({"type": "object", "required": ["id", "status"],
            "properties": {"id": {"type": "integer"}, "question_text": {"type": ["string", "null"]},
            "status": {"enum": ["open", "closed", "archived"]}, "pub_date": {"format": "date"},
            "score": {"type": "number"}, "votes": {"type": "string"}, "extra": {}}}));
        let expected = r#"GET /q/ response 200 .legacy: property removed
GET /q/ response 200 .pub_date: format changed from "date-time" to "date"
GET /q/ response 200 .question_text: may now be null (type was string, now null | string)
GET /q/ response 200 .question_text: property no longer required: readers may find it missing
GET /q/ response 200 .score: may now be number (type was integer, now number)
GET /q/ response 200 .status: may now be "archived" (enum was "open" | "closed", now "open" | "closed" | "archived")
GET /q/ response 200 .votes: may now be string (type was integer, now string)"#;
        assert_eq!(diff(&old, &new), expected);
    }

    #[test]
    fn additive_and_widening_changes_report_nothing() {
        let api = |page: Value, extra_param: Value, output: Value, input: Value| {
            let json = |schema| json!({"content": {"application/json": {"schema": schema}}});
            doc(json!({"/q/": {
                "get": {"parameters": [page, extra_param], "responses": {"200": json(output)}},
                "post": {"requestBody": json(input)}}}))
        };
        let old = api(
            json!({"in": "query", "name": "page", "schema": {"type": "integer", "maximum": 10}}),
            json!({}),
            json!({"type": "object", "properties": {"n": {"type": "number"},
                "kind": {"enum": ["a", "b"]}, "note": {"type": ["string", "null"]}}}),
            json!({"type": "object", "required": ["a"], "properties": {"a": {"type": "integer",
                "enum": [1, 2], "maxLength": 5, "minimum": 3, "pattern": "x"}, "b": {}}}),
        );
        let mut new = api(
            json!({"in": "query", "name": "page", "schema": {"type": ["number", "null"]}}),
            json!({"in": "query", "name": "search", "description": "Optional filter."}),
            json!({"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"},
                "kind": {"enum": ["a"]}, "note": {"type": "string"}, "added": {}}}),
            json!({"type": "object", "required": ["id"], "properties": {
                "id": {"type": "integer", "readOnly": true}, "c": {"type": "string"},
                "a": {"type": "number", "nullable": true, "enum": [1, 2, 3], "maxLength": 9}}}),
        );
        new["paths"]["/r/"] = json!({"get": {}});
        new["paths"]["/q/"]["get"]["responses"]["201"] = json!({});
        assert_eq!(diff(&old, &new), "");
    }

    #[test]
    fn refs_are_followed_in_both_documents() {
        let api = |text: Value, page_required: bool| {
            let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
            json!({"openapi": "3.1.0", "paths": {"/api/questions/": {
                "get": {"parameters": [{"$ref": "#/components/parameters/Page"}],
                    "responses": {"200": {"$ref": "#/components/responses/QuestionPage"}}},
                "post": {"requestBody": {"$ref": "#/components/requestBodies/NewQuestion"}}}},
            "components": {
                "parameters": {"Page": {"in": "query", "name": "page", "required": page_required}},
                "responses": {"QuestionPage": {
                    "content": {"application/json": {"schema": schema("Page")}}}},
                "requestBodies": {"NewQuestion": {"content": {"application/json": {"schema": {
                    "allOf": [schema("Question"), {"required": ["question_text"]}]}}}}},
                "schemas": {
                    "Page": {"properties": {"results": {"type": "array", "items": schema("Question")}}},
                    "Question": {"type": "object", "properties": {"question_text": text}}}}})
        };
        let old = api(json!({"type": "string"}), false);
        let new = api(json!({"type": ["string", "null"]}), true);
        let expected = "\
GET /api/questions/ query parameter page: parameter became required
GET /api/questions/ response 200 .results[].question_text: may now be null \
(type was string, now null | string)";
        assert_eq!(diff(&old, &new), expected);
    }

    #[test]
    fn ref_cycles_do_not_hang() {
        let api = |name_type: &str| {
            let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
            let mut api = response(schema("Node"));
            api["components"] = json!({"schemas": {
                "Node": {"type": "object", "properties": {"name": {"type": name_type},
                    "children": {"type": "array", "items": schema("Node")},
                    "loop": schema("A"), "mixin": schema("C"), "either": schema("U")}},
                "A": schema("B"), "B": schema("A"),
                "C": {"allOf": [schema("C")]},
                "U": {"oneOf": [schema("U"), {"type": "string"}]}}});
            api
        };
        let expected =
            "GET /q/ response 200 .name: may now be integer (type was string, now integer)";
        assert_eq!(diff(&api("string"), &api("integer")), expected);
    }

    #[test]
    fn unions_compare_by_member_types() {
        let q = |props: Value| json!({"type": "object", "properties": props});
        let old = response(q(json!({"text": {"type": "string"}})));
        let new = response(json!({"oneOf": [q(json!({})), {"type": "null"}]}));
        let expected = "\
GET /q/ response 200: may now be null (type was object, now null | object)
GET /q/ response 200 .text: property removed";
        assert_eq!(diff(&old, &new), expected);
        let one = body(json!({"type": "string"}));
        let two = body(json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}));
        assert_eq!(diff(&one, &two), "");
        let expected = "POST /q/ request body: no longer accepts integer \
            (type was integer | string, now string)";
        assert_eq!(diff(&two, &one), expected);
    }

    #[test]
    fn changes_are_sorted_and_displayed() {
        let old = doc(json!({"/b/": {"get": {}}, "/a/": {"get": {}, "delete": {}}}));
        let x = json!({"in": "query", "name": "x", "required": true});
        let changes = breaking_changes(&old, &doc(json!({"/a/": {"get": {"parameters": [x]}}})));
        let locations: Vec<_> = changes.iter().map(|c| c.location.as_str()).collect();
        assert_eq!(
            locations,
            ["/b/", "DELETE /a/", "GET /a/ query parameter x"]
        );
        let path_removed = BreakingChange {
            location: "/b/".into(),
            message: "path removed".into(),
        };
        assert_eq!(changes[0], path_removed);
        let expected = "GET /a/ query parameter x: new required parameter";
        assert_eq!(changes[2].to_string(), expected);
    }
}
