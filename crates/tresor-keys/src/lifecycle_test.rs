use super::*;

/// A keys store that counts its reads and returns `key_N` (or a pair), and a state repo
/// holding what `saved` says; `fail` makes the next call fail.
#[derive(Default)]
struct Io {
    reads: u32,
    pair: bool,
    saved: Option<SavedState<String>>,
    fetches: u32,
    fail_store: bool,
}

impl LifecycleIo<String> for Io {
    type Error = String;
    fn read_pair(&mut self) -> Result<KeyPair<String>, String> {
        if self.fail_store {
            return Err("store down".into());
        }
        self.reads += 1;
        Ok(if self.pair {
            KeyPair {
                forward: format!("pub_{}", self.reads),
                back: format!("priv_{}", self.reads),
            }
        } else {
            KeyPair::symmetric(format!("key_{}", self.reads))
        })
    }
    fn read_one(&mut self) -> Result<String, String> {
        if self.fail_store {
            return Err("store down".into());
        }
        self.reads += 1;
        Ok(format!("token_{}", self.reads))
    }
    fn fetch_state(&mut self) -> Result<Option<SavedState<String>>, String> {
        self.fetches += 1;
        Ok(self.saved.clone())
    }
}

fn get(k: &mut KeyLifecycle<String>, f: Option<Flow>, io: &mut Io) -> (Flow, String) {
    k.get(f, io).expect("get")
}

#[test]
fn round_trip_alternates_and_back_gives_the_forward_key() {
    let mut k = KeyLifecycle::new(Purpose::RoundTrip, true, true);
    let mut io = Io::default();
    assert_eq!(get(&mut k, None, &mut io), (Flow::Forward, "key_1".into()));
    assert_eq!(get(&mut k, None, &mut io), (Flow::Back, "key_1".into()));
    assert_eq!(io.reads, 1, "the back path does not read the store");
    assert_eq!(get(&mut k, None, &mut io), (Flow::Forward, "key_2".into()));
    assert_eq!(get(&mut k, None, &mut io), (Flow::Back, "key_2".into()));
    // A back get after a back get keeps the cached key (keep_in_cache).
    assert_eq!(
        get(&mut k, Some(Flow::Back), &mut io),
        (Flow::Back, "key_2".into())
    );
    assert_eq!(io.fetches, 0, "a stateless key never reads a saved state");
}

#[test]
fn asymmetric_pair_gives_each_path_its_own_value() {
    let mut k = KeyLifecycle::new(Purpose::RoundTrip, true, true);
    let mut io = Io {
        pair: true,
        ..Io::default()
    };
    assert_eq!(get(&mut k, Some(Flow::Forward), &mut io).1, "pub_1");
    assert_eq!(get(&mut k, Some(Flow::Back), &mut io).1, "priv_1");
}

#[test]
fn back_without_cache_forgets_and_rereads() {
    let mut k = KeyLifecycle::new(Purpose::RoundTrip, true, false);
    let mut io = Io::default();
    get(&mut k, None, &mut io);
    assert_eq!(get(&mut k, None, &mut io), (Flow::Back, "key_1".into()));
    assert!(
        !k.has_keys(),
        "a back get without keep_in_cache forgets the keys"
    );
    assert_eq!(
        get(&mut k, Some(Flow::Back), &mut io),
        (Flow::Back, "key_2".into())
    );
}

#[test]
fn one_way_reads_the_store_every_time_and_refuses_paths() {
    let mut k = KeyLifecycle::new(Purpose::OneWay, true, true);
    let mut io = Io::default();
    assert_eq!(
        get(&mut k, None, &mut io),
        (Flow::Default, "token_1".into())
    );
    assert_eq!(
        get(&mut k, None, &mut io),
        (Flow::Default, "token_2".into())
    );
    assert!(!k.has_keys());
    assert_eq!(
        k.get(Some(Flow::Forward), &mut io),
        Err(LifecycleError::OneWayNeedsDefault)
    );
    assert_eq!(
        k.get(Some(Flow::Back), &mut io),
        Err(LifecycleError::OneWayNeedsDefault)
    );
    let mut rt = KeyLifecycle::<String>::new(Purpose::RoundTrip, true, true);
    assert_eq!(
        rt.get(Some(Flow::Default), &mut io),
        Err(LifecycleError::RoundTripNeedsPath)
    );
    assert_eq!(rt.last_flow(), None, "a refused get changes nothing");
}

#[test]
fn store_failure_is_returned_and_changes_nothing() {
    let mut k = KeyLifecycle::new(Purpose::RoundTrip, true, true);
    let mut io = Io::default();
    get(&mut k, None, &mut io);
    io.fail_store = true;
    get(&mut k, None, &mut io); // back: from the cache, no store read
    assert_eq!(
        k.get(None, &mut io),
        Err(LifecycleError::Io("store down".to_string()))
    );
    assert_eq!(k.last_flow(), Some(Flow::Back));
}

#[test]
fn stated_key_restores_its_saved_state_once() {
    // A previous process saved "forward" with key_7: this one's first get is the back path
    // and gives key_7 without reading the store.
    let mut k = KeyLifecycle::new(Purpose::RoundTrip, false, true);
    let mut io = Io {
        saved: Some(SavedState {
            flow: Some(Flow::Forward),
            keys: Some(KeyPair::symmetric("key_7".into())),
        }),
        ..Io::default()
    };
    assert_eq!(get(&mut k, None, &mut io), (Flow::Back, "key_7".into()));
    assert_eq!(io.reads, 0);
    assert_eq!(get(&mut k, None, &mut io), (Flow::Forward, "key_1".into()));
    assert_eq!(io.fetches, 1, "the state is read once");
}

#[test]
fn stated_key_with_nothing_saved_starts_fresh() {
    let mut k = KeyLifecycle::new(Purpose::RoundTrip, false, true);
    let mut io = Io::default();
    assert_eq!(get(&mut k, None, &mut io), (Flow::Forward, "key_1".into()));
    let mut k2 = KeyLifecycle::new(Purpose::RoundTrip, false, true);
    let mut io2 = Io::default();
    assert_eq!(
        get(&mut k2, Some(Flow::Back), &mut io2),
        (Flow::Back, "key_1".into())
    );
    assert_eq!(io2.fetches, 1);
}

#[test]
fn state_to_save_round_trips_and_does_not_change_the_flow() {
    let mut k = KeyLifecycle::new(Purpose::RoundTrip, false, true);
    let mut io = Io::default();
    assert_eq!(k.state_to_save(&mut io), Ok((None, None)));
    get(&mut k, None, &mut io);
    let (flow, key) = k.state_to_save(&mut io).expect("save");
    assert_eq!((flow, key.as_deref()), (Some(Flow::Forward), Some("key_1")));
    assert_eq!(
        k.last_flow(),
        Some(Flow::Forward),
        "saving leaves the flow alone"
    );
    // Restored in a fresh lifecycle: the back path gives the saved key.
    let mut fresh = KeyLifecycle::new(Purpose::RoundTrip, false, true);
    let mut io2 = Io {
        saved: Some(SavedState {
            flow,
            keys: key.map(KeyPair::symmetric),
        }),
        ..Io::default()
    };
    assert_eq!(
        get(&mut fresh, None, &mut io2),
        (Flow::Back, "key_1".into())
    );
    // After a back get only the flow is saved.
    assert_eq!(
        k.state_to_save(&mut io).map(|s| s.0),
        Ok(Some(Flow::Forward))
    );
    get(&mut k, None, &mut io);
    assert_eq!(k.state_to_save(&mut io), Ok((Some(Flow::Back), None)));
}

#[test]
fn state_to_save_reads_the_store_when_no_key_is_held() {
    let mut k = KeyLifecycle::<String>::new(Purpose::RoundTrip, false, false);
    k.set_last_flow(Some(Flow::Forward));
    let mut io = Io {
        pair: true,
        ..Io::default()
    };
    let (_, key) = k.state_to_save(&mut io).expect("save");
    assert_eq!(key.as_deref(), Some("priv_1"));
}

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

fn run(strategy: ErrorStrategy, fail: &[&str]) -> (CallbacksRun, Vec<String>) {
    let mut ran = Vec::new();
    let r = run_callbacks(strategy, &names(&["a", "b", "c"]), |n| {
        ran.push(n.to_string());
        if fail.contains(&n) { Err(()) } else { Ok(()) }
    });
    (r, ran)
}

#[test]
fn callbacks_under_each_strategy() {
    use CallbackStatus::*;
    let (r, ran) = run(ErrorStrategy::Halt, &["b"]);
    assert_eq!(ran, ["a", "b"]);
    assert_eq!(r.outcome, CallbacksOutcome::Halted("b".into()));
    assert_eq!(
        r.statuses.iter().map(|s| s.1).collect::<Vec<_>>(),
        [Succeeded, Failed, Pending]
    );

    let (r, ran) = run(ErrorStrategy::Skip, &["a", "b"]);
    assert_eq!(ran, ["a", "b", "c"]);
    assert_eq!(r.outcome, CallbacksOutcome::Completed);
    assert_eq!(r.failed().collect::<Vec<_>>(), ["a", "b"]);

    let (r, ran) = run(ErrorStrategy::SkipAndRaise, &["b", "c"]);
    assert_eq!(ran, ["a", "b", "c"]);
    assert_eq!(r.outcome, CallbacksOutcome::Raise("b".into()));

    let (r, ran) = run(ErrorStrategy::RaiseImmediately, &["a"]);
    assert_eq!(ran, ["a"]);
    assert_eq!(r.outcome, CallbacksOutcome::Raise("a".into()));

    for s in [
        ErrorStrategy::Halt,
        ErrorStrategy::Skip,
        ErrorStrategy::SkipAndRaise,
        ErrorStrategy::RaiseImmediately,
    ] {
        let (r, ran) = run(s, &[]);
        assert_eq!((r.outcome, ran.len()), (CallbacksOutcome::Completed, 3));
    }
}

#[test]
fn debug_never_shows_key_material() {
    let mut k = KeyLifecycle::new(Purpose::RoundTrip, true, true);
    let mut io = Io::default();
    get(&mut k, None, &mut io);
    let shown = format!(
        "{k:?} {:?} {:?}",
        k.back_path_keys(),
        SavedState {
            flow: None,
            keys: Some(KeyPair::symmetric("key_1".to_string()))
        }
    );
    assert!(!shown.contains("key_1"), "{shown}");
}
