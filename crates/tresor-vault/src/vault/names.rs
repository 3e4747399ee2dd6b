//! How vault secrets appear in the store (names, attributes and which objects the vault
//! shows are [`tresor_store::secret_name`]'s), and the index query a filter narrows to.

use tresor_store::secret_name::{APP, ENV, KEY, KMIP_APP, SecretName};
use tresor_store::{AttrCond, ObjectMeta, Query};

use crate::filter::Filter;

/// The attributes of the vault secret `app:env:key` of type `kind`
/// ([`SecretName::attributes_of`]).
pub(super) fn secret_attrs(
    app: &str,
    env: &str,
    key: &str,
    kind: &str,
) -> tresor_store::Attributes {
    SecretName::attributes_of(app, env, key, kind)
}

/// The full stored name of a vault secret ([`SecretName::join`]).
pub fn secret_name(app: &str, env: &str, key: &str) -> String {
    SecretName::join(app, env, key)
}

/// True if `s` is `APP:ENV:KEY` with three non-empty parts free of glob syntax (`*?[,`) and
/// control characters: a filter that can only match the secret of that exact name.
pub(super) fn is_literal_name(s: &str) -> bool {
    let mut colons = 0;
    let mut part_len = 0;
    for c in s.chars() {
        match c {
            ':' => {
                if part_len == 0 {
                    return false;
                }
                colons += 1;
                part_len = 0;
            }
            '*' | '?' | '[' | ',' => return false,
            c if c.is_control() => return false,
            _ => part_len += 1,
        }
    }
    colons == 2 && part_len > 0
}

/// `vault_view(m).is_some()`, without building the three strings (the `get` hot path).
pub(super) fn is_vault_object(m: &ObjectMeta) -> bool {
    SecretName::is_vault_object(m)
}

/// How an object appears to the vault: `(app, env, key)`, or `None` for internal objects
/// ([`SecretName::from_meta`]; objects made over KMIP without a vault name show under the
/// app `kmip`).
pub fn vault_view(m: &ObjectMeta) -> Option<(String, String, String)> {
    SecretName::from_meta(m).map(SecretName::into_parts)
}

/// The index query that narrows a filter before glob matching. Only the most selective
/// condition is sent (each condition is a separate index lookup that SQLite materialises in
/// full, so a broad `env = prod` beside a narrow key prefix would cost a scan of every prod
/// secret): app and env literal → one range scan of the name index (`app:env:KEYPREFIX…`);
/// else the key; else app or env. Glob matching on the results does the rest.
pub(super) fn query_for(f: &Filter) -> Query {
    let mut q = Query::default();
    let lit = f.literal_parts();
    if lit.app == Some(KMIP_APP) {
        return q;
    }
    let key_prefix = f
        .key()
        .prefixes()
        .filter(|p| p.len() == 1)
        .map(|p| p[0].to_owned());
    if let (Some(app), Some(env)) = (lit.app, lit.env) {
        let key = lit
            .key
            .map(str::to_owned)
            .or(key_prefix)
            .unwrap_or_default();
        q.name_prefix = Some(format!("{app}:{env}:{key}"));
        return q;
    }
    let cond =
        |attr: &str, part: &crate::filter::Part, literal: Option<&str>| -> Option<AttrCond> {
            if let Some(l) = literal {
                Some(AttrCond::Eq(attr.into(), l.into()))
            } else if let Some(lits) = part.literals() {
                Some(AttrCond::In(
                    attr.into(),
                    lits.iter().map(|s| (*s).to_owned()).collect(),
                ))
            } else {
                part.prefixes()
                    .filter(|p| p.len() == 1 && !p[0].is_empty())
                    .map(|p| AttrCond::Prefix(attr.into(), p[0].to_owned()))
            }
        };
    if let Some(c) = cond(KEY, f.key(), lit.key)
        .or_else(|| cond(APP, f.app(), lit.app))
        .or_else(|| cond(ENV, f.env(), lit.env))
    {
        q.attrs.push(c);
    }
    q
}

#[cfg(test)]
mod literal_name_tests {
    use super::is_literal_name;
    use crate::filter::Filter;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert!(is_literal_name("app:prod:DB_URL"));
        assert!(is_literal_name("a b:e:k]"));
        for s in [
            "", "::", "a:e", "a:e:", ":e:k", "a::k", "a:e:k:x", "a:e:K*", "a:e:K?", "a:e:[K]",
            "a,b:e:k", "a:e:k\n",
        ] {
            assert!(!is_literal_name(s), "{s:?}");
        }
    }

    proptest! {
        /// The fast path of `Vault::get` only takes what the filter grammar would compile to
        /// an exact name.
        #[test]
        fn literal_names_are_exact_filters(s in "[a-z:*?\\[\\],\t ]{0,12}") {
            if is_literal_name(&s) {
                let f = Filter::new(&s).expect("a literal name is a valid filter");
                prop_assert!(f.is_exact());
            }
        }
    }
}
