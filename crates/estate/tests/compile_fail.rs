//! Model-declaration mistakes are compile errors that name the field.

#[test]
fn model_declaration_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/compile_fail/*.rs");
}
