//! The JSON form reads back into the same tree.

use pitcrew_filter::{from_json, to_json};

#[test]
fn json_form_reads_back_into_the_same_tree() {
    let text = r#"{"subject":"people","where":{"kind":"all","of":[
        {"kind":"field","field":"country","test":{"op":"in","values":["DE","AT"]}},
        {"kind":"did","event":"Webinar Attended","count":{"op":"at_least","times":2},
         "window":{"window":"last","amount":{"amount":90,"unit":"days"}}},
        {"kind":"not","condition":{"kind":"in_segment","segment":"Employees"}}]}}"#;
    let seg = from_json(text).expect("valid JSON form");
    let back = from_json(&to_json(&seg).to_string()).expect("round trip");
    assert_eq!(seg, back);
}
