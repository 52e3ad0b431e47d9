//! The OpenAPI document shows what to send and what comes back: every
//! operation has an example of its request body (when it takes one) and of
//! its main success answer, every component schema has an example (its own,
//! or one on each property), the document names its servers, and every
//! example is valid against its schema, formats (`date-time`) included.

use jsonschema::Registry;
use serde_json::{Value, json};
use walletgate::routes::docs::{LOCAL_DEFAULT_URL, document};
use walletgate::startup::Served;

use crate::openapi::default_base_url;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];
/// The document's name as a JSON Schema resource, so its `#/components/…` refs resolve.
const DOCUMENT_URI: &str = "urn:walletgate:openapi";

fn document_json() -> Value {
    serde_json::to_value(document(|path| Served::ALL.serves(path), LOCAL_DEFAULT_URL)).expect("the document serialises")
}

/// Whether a schema shows an example: its own, or through what it is made of
/// (every property, every branch but `null`, its items, what it refers to).
fn shows_example(document: &Value, schema: &Value, seen: &[&str]) -> bool {
    if schema.get("example").is_some() || schema.get("examples").is_some() {
        return true;
    }
    if let Some(name) = schema["$ref"].as_str().map(|r| r.trim_start_matches("#/components/schemas/")) {
        let schema = &document["components"]["schemas"][name];
        return !seen.contains(&name) && shows_example(document, schema, &[seen, &[name]].concat());
    }

    for combinator in ["allOf", "oneOf", "anyOf"] {
        if let Some(branches) = schema[combinator].as_array() {
            return branches.iter().filter(|b| b["type"] != "null").all(|b| shows_example(document, b, seen));
        }
    }
    if let Some(properties) = schema["properties"].as_object().filter(|p| !p.is_empty()) {
        return properties.values().all(|property| shows_example(document, property, seen));
    }
    schema.get("items").is_some_and(|items| shows_example(document, items, seen))
}

/// Each media type of a request body or response shows an example.
fn content_shows_examples(document: &Value, holder: &Value) -> bool {
    holder["content"].as_object().is_none_or(|content| {
        content.values().all(|media| {
            media.get("example").is_some()
                || media.get("examples").is_some()
                || shows_example(document, &media["schema"], &[])
        })
    })
}

#[test]
fn every_operation_shows_its_request_body_and_main_success_answer() {
    let document = document_json();
    let mut missing = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS.iter().filter(|method| item.get(**method).is_some()) {
            let operation = &item[*method];
            if !content_shows_examples(&document, &operation["requestBody"]) {
                missing.push(format!("{method} {path}: request body"));
            }
            let responses = operation["responses"].as_object().unwrap();
            // The lowest 2xx, else the lowest 3xx: the answer a client hopes for.
            let main =
                ["2", "3"].iter().find_map(|class| responses.iter().find(|(status, _)| status.starts_with(class)));
            let (status, response) = main.unwrap_or_else(|| panic!("{method} {path} documents no success"));
            if !content_shows_examples(&document, response) {
                missing.push(format!("{method} {path}: {status} answer"));
            }
        }
    }
    assert!(missing.is_empty(), "no example for: {missing:#?}");
}

#[test]
fn every_component_schema_has_an_example() {
    let document = document_json();
    let missing: Vec<&String> = document["components"]["schemas"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, schema)| !shows_example(&document, schema, &[name.as_str()]))
        .map(|(name, _)| name)
        .collect();
    assert!(missing.is_empty(), "schemas without an example: {missing:?}");
}

#[test]
fn the_document_names_the_instance_serving_it_then_the_local_default() {
    assert_eq!(LOCAL_DEFAULT_URL, default_base_url(), "the shipped settings serve elsewhere");
    let elsewhere =
        serde_json::to_value(document(|path| Served::NONE.serves(path), "https://wallet.example.com")).unwrap();
    let urls: Vec<&str> = elsewhere["servers"].as_array().unwrap().iter().filter_map(|s| s["url"].as_str()).collect();
    assert_eq!(urls, ["https://wallet.example.com", LOCAL_DEFAULT_URL]);
    let local = document_json();
    assert_eq!(local["servers"].as_array().map(Vec::len), Some(1), "no server twice");
    for server in elsewhere["servers"].as_array().unwrap() {
        assert!(server["description"].as_str().is_some_and(|d| !d.is_empty()), "{server}");
    }
}

/// Every example in the document with the JSON pointer of the schema it
/// must satisfy: schemas' own `example`/`examples`, and those of media types
/// and parameters (checked against their `schema`).
fn examples_of(node: &Value, pointer: &str, found: &mut Vec<(String, Value)>) {
    let Some(object) = node.as_object() else {
        if let Some(list) = node.as_array() {
            list.iter().enumerate().for_each(|(i, item)| examples_of(item, &format!("{pointer}/{i}"), found));
        }
        return;
    };
    let target = if object.contains_key("schema") { format!("{pointer}/schema") } else { pointer.to_owned() };
    if let Some(example) = object.get("example") {
        found.push((target.clone(), example.clone()));
    }
    match object.get("examples") {
        Some(Value::Array(list)) => found.extend(list.iter().map(|example| (target.clone(), example.clone()))),
        Some(Value::Object(named)) => {
            found.extend(named.values().map(|example| (target.clone(), example["value"].clone())))
        }
        _ => {}
    }
    for (key, child) in object.iter().filter(|(key, _)| !matches!(key.as_str(), "example" | "examples")) {
        examples_of(child, &format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1")), found);
    }
}

/// Ids in examples carry their kind's real prefix (an `id` any kind's).
fn misprefixed_ids(key: &str, value: &Value, found: &mut Vec<String>) {
    // `EV-`: WeChat Pay's notification ids (the callback's body is WeChat Pay's).
    const ANY: &[&str] = &["acc_", "wd_", "bnd_", "je_", "kyc_", "quo_", "aud_", "tr_", "rule_", "EV-"];
    match value {
        Value::Object(object) => object.iter().for_each(|(key, value)| misprefixed_ids(key, value, found)),
        Value::Array(list) => list.iter().for_each(|value| misprefixed_ids(key, value, found)),
        Value::String(id) => {
            let prefixes: &[&str] = match key {
                "id" => ANY,
                "account_id" | "operator_id" => &["acc_"],
                "binding_id" => &["bnd_"],
                "withdrawal_id" => &["wd_"],
                "transfer_id" => &["tr_"],
                "quote_id" => &["quo_"],
                _ => return,
            };
            if !prefixes.iter().any(|prefix| id.starts_with(prefix)) {
                found.push(format!("{key}: {id}"));
            }
        }
        _ => {}
    }
}

#[test]
fn every_example_is_valid_against_its_schema() {
    let document = document_json();
    let mut examples = Vec::new();
    examples_of(&document["paths"], "/paths", &mut examples);
    examples_of(&document["components"], "/components", &mut examples);
    assert!(examples.len() > 100, "only {} examples", examples.len());
    let registry = Registry::new().add(DOCUMENT_URI, &document).unwrap().prepare().unwrap();
    let mut invalid = Vec::new();
    for (pointer, example) in &examples {
        // A URI fragment takes no `{}` (path templates): percent-encode them.
        let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
        let schema = json!({"$ref": format!("{DOCUMENT_URI}#{fragment}")});

        let validator = jsonschema::options()
            .with_registry(&registry)
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|error| panic!("the schema at {pointer}: {error}"));
        invalid.extend(validator.iter_errors(example).map(|e| format!("{pointer}, at {}: {e}", e.instance_path())));
        let key = pointer.rsplit('/').next().unwrap_or_default();
        misprefixed_ids(key, example, &mut invalid);
    }

    assert!(invalid.is_empty(), "examples their schema refuses: {invalid:#?}");
}
