//! The serial moto (`tests/moto_harness.py`) replaces moto's whole-table backup around
//! TransactWriteItems with a journal of the items the transaction names. These tests hold it to
//! DynamoDB's all-or-nothing rule through the real SDK: a cancelled transaction leaves a new item
//! unwritten, an updated item unchanged and a deleted item in place; a successful one applies
//! every write.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeySchemaElement, Put, TransactWriteItem, Update,
};
use leadrouter_aws::moto::{moto, sdk};

const TABLE: &str = "tx";

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn key(pk: &str) -> std::collections::HashMap<String, AttributeValue> {
    [("pk".to_owned(), s(pk)), ("sk".to_owned(), s("item"))].into()
}

async fn value(client: &Client, pk: &str) -> Option<String> {
    let out = client
        .get_item()
        .table_name(TABLE)
        .set_key(Some(key(pk)))
        .consistent_read(true)
        .send()
        .await
        .expect("get_item");
    out.item()
        .and_then(|i| i.get("v"))
        .and_then(|v| v.as_s().ok())
        .cloned()
}

async fn put(client: &Client, pk: &str, v: &str) {
    let mut item = key(pk);
    item.insert("v".into(), s(v));
    client
        .put_item()
        .table_name(TABLE)
        .set_item(Some(item))
        .send()
        .await
        .expect("put_item");
}

fn tx_put(pk: &str, v: &str) -> TransactWriteItem {
    let mut item = key(pk);
    item.insert("v".into(), s(v));
    let put = Put::builder()
        .table_name(TABLE)
        .set_item(Some(item))
        .build()
        .expect("put");
    TransactWriteItem::builder().put(put).build()
}

fn tx_set(pk: &str, v: &str) -> TransactWriteItem {
    let update = Update::builder()
        .table_name(TABLE)
        .set_key(Some(key(pk)))
        .update_expression("SET v = :v")
        .expression_attribute_values(":v", s(v))
        .build()
        .expect("update");
    TransactWriteItem::builder().update(update).build()
}

fn tx_delete(pk: &str) -> TransactWriteItem {
    let delete = Delete::builder()
        .table_name(TABLE)
        .set_key(Some(key(pk)))
        .build()
        .expect("delete");
    TransactWriteItem::builder().delete(delete).build()
}

fn tx_require(pk: &str) -> TransactWriteItem {
    let check = ConditionCheck::builder()
        .table_name(TABLE)
        .set_key(Some(key(pk)))
        .condition_expression("attribute_exists(pk)")
        .build()
        .expect("check");
    TransactWriteItem::builder().condition_check(check).build()
}

async fn setup() -> (leadrouter_aws::moto::Moto, Client) {
    let moto = moto(true).await;
    let client = Client::new(&sdk(&moto).await);
    let attr = |name: &str| {
        aws_sdk_dynamodb::types::AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
            .build()
            .expect("attribute")
    };
    let schema = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("schema")
    };
    client
        .create_table()
        .table_name(TABLE)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(schema("pk", aws_sdk_dynamodb::types::KeyType::Hash))
        .key_schema(schema("sk", aws_sdk_dynamodb::types::KeyType::Range))
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create_table");
    (moto, client)
}

#[tokio::test]
async fn a_cancelled_transaction_writes_nothing() {
    let (_moto, client) = setup().await;
    put(&client, "updated", "before").await;
    put(&client, "deleted", "kept").await;

    // The failing check comes last, after three writes moto has already applied in memory.
    let result = client
        .transact_write_items()
        .transact_items(tx_put("new", "x"))
        .transact_items(tx_set("updated", "after"))
        .transact_items(tx_delete("deleted"))
        .transact_items(tx_require("missing"))
        .send()
        .await;
    let err = result.expect_err("the condition check fails");
    assert!(
        format!("{err:?}").contains("TransactionCanceled"),
        "cancelled: {err:?}"
    );
    assert_eq!(value(&client, "new").await, None, "put rolled back");
    assert_eq!(value(&client, "updated").await.as_deref(), Some("before"));
    assert_eq!(value(&client, "deleted").await.as_deref(), Some("kept"));

    // The same writes without the failing check all land.
    put(&client, "missing", "now").await;
    client
        .transact_write_items()
        .transact_items(tx_put("new", "x"))
        .transact_items(tx_set("updated", "after"))
        .transact_items(tx_delete("deleted"))
        .transact_items(tx_require("missing"))
        .send()
        .await
        .expect("transaction applies");
    assert_eq!(value(&client, "new").await.as_deref(), Some("x"));
    assert_eq!(value(&client, "updated").await.as_deref(), Some("after"));
    assert_eq!(value(&client, "deleted").await, None);
}

#[tokio::test]
async fn two_writes_to_one_item_are_refused_and_roll_back() {
    let (_moto, client) = setup().await;
    put(&client, "a", "before").await;
    let result = client
        .transact_write_items()
        .transact_items(tx_set("a", "first"))
        .transact_items(tx_set("a", "second"))
        .send()
        .await;
    assert!(
        result.is_err(),
        "one transaction may not write an item twice"
    );
    assert_eq!(value(&client, "a").await.as_deref(), Some("before"));
}
