use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn render(src: &str, data: &Value) -> String {
    Template::parse(src)
        .unwrap_or_else(|e| panic!("parse {src:?}: {e}"))
        .render(data)
        .unwrap_or_else(|e| panic!("render {src:?}: {e}"))
}

fn map(pairs: &[(&str, Value)]) -> Value {
    Value::from(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn list(items: &[&str]) -> Value {
    Value::from(items.iter().map(|s| Value::from(*s)).collect::<Vec<_>>())
}

#[test]
fn text_and_fields() {
    let data = map(&[("Name", Value::from("web")), ("N", Value::Int(3))]);
    assert_eq!(render("hi {{.Name}} x{{.N}}", &data), "hi web x3");
    assert_eq!(render("{{.Missing}}", &data), "<no value>");
    assert_eq!(render("{{.}}", &Value::Nil), "<nil>");
}

#[test]
fn trim_markers() {
    let data = map(&[("A", Value::from("a"))]);
    assert_eq!(render("x  \n {{- .A -}} \n  y", &data), "xay");
    assert_eq!(render("x {{- /* c */ -}} y", &data), "xy");
    assert_eq!(render("x {{/* c */}} y", &data), "x  y");
    assert_eq!(render("{{-3}}", &data), "-3");
}

#[test]
fn control_structures() {
    let data = map(&[
        ("L", list(&["a", "b", "c"])),
        ("E", list(&[])),
        ("T", Value::Bool(true)),
    ]);
    assert_eq!(render("{{range .L}}[{{.}}]{{end}}", &data), "[a][b][c]");
    assert_eq!(
        render("{{range $i, $e := .L}}{{$i}}={{$e}} {{end}}", &data),
        "0=a 1=b 2=c "
    );
    assert_eq!(render("{{range .E}}x{{else}}empty{{end}}", &data), "empty");
    assert_eq!(
        render("{{if .E}}y{{else if .T}}t{{else}}n{{end}}", &data),
        "t"
    );
    assert_eq!(render("{{with .L}}{{len .}}{{end}}", &data), "3");
    assert_eq!(
        render("{{with .E}}x{{else with .T}}{{.}}{{end}}", &data),
        "true"
    );
    assert_eq!(
        render(
            "{{range .L}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}",
            &data
        ),
        "a"
    );
    assert_eq!(
        render(
            "{{range .L}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}",
            &data
        ),
        "ac"
    );
    // Go 1.19 ranges over lists, maps and channels only (integers came in Go 1.22).
    assert!(
        Template::parse("{{range 3}}{{.}}{{end}}")
            .unwrap()
            .render(&data)
            .unwrap_err()
            .to_string()
            .contains("range can't iterate over 3")
    );
}

#[test]
fn variables_and_scope() {
    let data = map(&[("L", list(&["a", "b"]))]);
    assert_eq!(render("{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}", &data), "12");
    assert_eq!(render("{{range .L}}{{$.L}}{{end}}", &data), "[a b][a b]");
    assert!(Template::parse("{{if true}}{{$y := 1}}{{end}}{{$y}}").is_err());
}

#[test]
fn functions() {
    let data = map(&[("S", Value::from("Hello World")), ("L", list(&["x"]))]);
    assert_eq!(
        render("{{ToUpper .S}} {{ToLower .S}} {{.S | ToUpper}}", &data),
        "HELLO WORLD hello world HELLO WORLD"
    );
    assert_eq!(render("{{printf \"%s=%d\" .S 4}}", &data), "Hello World=4");
    assert_eq!(render("{{println}}", &data), "\n");
    assert_eq!(render("{{print 1 2 \"a\"}}", &data), "1 2a");
    assert_eq!(
        render("{{len .S}} {{index .L 0}} {{slice .S 0 5}}", &data),
        "11 x Hello"
    );
    assert_eq!(
        render("{{or .Missing \"dflt\"}} {{and .S .L}} {{not .S}}", &data),
        "dflt [x] false"
    );
    assert_eq!(
        render("{{if and .Missing (index .Missing 0)}}x{{end}}ok", &data),
        "ok"
    );
    assert_eq!(
        render(
            "{{lt 1 2}} {{ge \"b\" \"a\"}} {{ne 1 1}} {{eq 1 2 3 1}}",
            &data
        ),
        "true true false true"
    );
    assert_eq!(
        render("{{html \"<b>\"}} {{urlquery \"a b\"}}", &data),
        "&lt;b&gt; a+b"
    );
    assert_eq!(render("{{Title \"hello there\"}}", &data), "Hello There");
    assert_eq!(
        render("{{\"a\\n\"}}{{`raw\\n`}}{{'x'}}", &data),
        "a\nraw\\n120"
    );
    assert_eq!(render("{{ToJSON .L}}", &data), "[\n  \"x\"\n]");
}

#[test]
fn define_and_template() {
    let data = map(&[("A", Value::from("z"))]);
    assert_eq!(
        render("{{define \"t\"}}<{{.}}>{{end}}{{template \"t\" .A}}", &data),
        "<z>"
    );
    assert_eq!(render("{{block \"b\" .A}}[{{.}}]{{end}}", &data), "[z]");
}

#[test]
fn errors_name_the_problem() {
    let err = Template::parse("{{.A").unwrap_err().to_string();
    assert!(err.contains("unclosed action"), "{err}");
    let err = Template::parse("{{nosuch 1}}").unwrap_err().to_string();
    assert!(err.contains("\"nosuch\" not defined"), "{err}");
    let err = Template::parse("{{if .A}}").unwrap_err().to_string();
    assert!(err.contains("unexpected EOF"), "{err}");
    let err = Template::parse("{{end}}").unwrap_err().to_string();
    assert!(err.contains("unexpected {{end}}"), "{err}");
    let err = Template::parse("a\n{{$u}}").unwrap_err().to_string();
    assert!(
        err.contains("line 2") && err.contains("undefined variable"),
        "{err}"
    );
    let err = Template::parse("{{.A}}")
        .unwrap()
        .render(&Value::from("s"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("can't evaluate field A in type string"),
        "{err}"
    );
    let err = Template::parse("{{len 3}}")
        .unwrap()
        .render(&Value::Nil)
        .unwrap_err()
        .to_string();
    assert!(err.contains("len of type int"), "{err}");
}

#[test]
fn limits_stop_runaway_templates() {
    // A billion iterations: three nested ranges over a thousand items.
    let list = Value::from(vec![Value::Int(1); 1000]);
    let err = Template::parse("{{range .}}{{range $}}{{range $}}x{{end}}{{end}}{{end}}")
        .unwrap()
        .render(&list)
        .unwrap_err();
    assert!(err.to_string().contains("steps"), "{err}");
    let err = Template::parse("{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\" .}}")
        .unwrap()
        .render(&Value::Nil)
        .unwrap_err();
    assert!(err.to_string().contains("depth"), "{err}");
    let deep = "{{(1)}}";
    assert_eq!(render(deep, &Value::Nil), "1");
    let too_deep = format!("{{{{{}1{}}}}}", "(".repeat(500), ")".repeat(500));
    assert!(Template::parse(&too_deep).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Arbitrary text never panics the parser or the executor.
    #[test]
    fn never_panics_on_arbitrary_text(src in ".{0,200}") {
        if let Ok(t) = Template::parse(&src) {
            let _ = t.render(&map(&[("A", list(&["x", "y"]))]));
        }
    }

    /// Template-shaped input (actions built from the grammar's pieces) never panics either.
    #[test]
    fn never_panics_on_template_like_text(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("{{"), Just("}}"), Just("{{-"), Just("-}}"), Just(" "), Just("."),
                Just(".A"), Just("$"), Just("$x"), Just(":="), Just("="), Just("|"), Just("("),
                Just(")"), Just("if"), Just("else"), Just("end"), Just("range"), Just("with"),
                Just("define"), Just("template"), Just("block"), Just("break"), Just("\"s\""),
                Just("`r`"), Just("'c'"), Just("1"), Just("-2.5"), Just("0x1f"), Just("nil"),
                Just("true"), Just("len"), Just("printf"), Just("\"%d %s %v\""), Just("index"),
                Just("and"), Just("or"), Just("not"), Just("eq"), Just("ToJSON"), Just("slice"),
                Just("/*"), Just("*/"), Just(","), Just("\n"), Just("text"),
            ],
            0..40,
        )
    ) {
        let src: String = parts.concat();
        if let Ok(t) = Template::parse(&src) {
            let _ = t.render(&map(&[("A", list(&["x", "y"]))]));
        }
    }
}
