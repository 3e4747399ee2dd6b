//! `tvtest!` (a test with a fresh [`TestVault`](crate::util::TestVault)) and `eqnice!`.

/// Defines a test that gets a vault owned by `alice` in a temporary HOME, and a command.
///
/// ```ignore
/// tvtest!(add_get, |tv: TestVault, mut cmd: TestCommand| {
///     tv.run(["add", "key", "DB", "x", "--app", "app", "--env", "dev"]);
///     eqnice!("x", cmd.args(["get", "app:dev:DB"]).stdout());
/// });
/// ```
#[macro_export]
macro_rules! tvtest {
    ($name:ident, |$tv:ident: TestVault, mut $cmd:ident: TestCommand| $body:block) => {
        #[test]
        fn $name() {
            let $tv = $crate::util::TestVault::new();
            #[allow(unused_mut, unused_variables)]
            let mut $cmd = $tv.cmd();
            $body
        }
    };
    ($name:ident, |$tv:ident: TestVault| $body:block) => {
        #[test]
        fn $name() {
            let $tv = $crate::util::TestVault::new();
            $body
        }
    };
}

/// Like `assert_eq!` for text, printing both sides in full, one under the other.
#[macro_export]
macro_rules! eqnice {
    ($expected:expr, $got:expr) => {{
        let expected: &str = &$expected;
        let got: &str = &$got;
        if expected != got {
            panic!(
                "
printed outputs differ!

expected:
----------------------------------------------
{}
----------------------------------------------

got:
----------------------------------------------
{}
----------------------------------------------
",
                expected, got
            );
        }
    }};
}
