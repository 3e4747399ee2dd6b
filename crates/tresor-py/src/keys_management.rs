//! The Rust core of the `keys_management` drop-in: one `KeyLifecycle` per defined key
//! (tresor-keys' [`tresor_keys::lifecycle`] state machine) and `run_callbacks` (its
//! error-strategy runner).
//!
//! The key material a key holds between gets lives here, as `str` or `bytes` (kept apart,
//! zeroized on drop); the Python package keeps what is the user's: the keys store callable,
//! the state repository and crypto tool (called from here through Python closures), the
//! callbacks, the locks and the exception classes.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use tresor_keys::lifecycle::{
    CallbacksOutcome, KeyLifecycle as Core, KeyPair, LifecycleError, LifecycleIo, SavedState,
};
use tresor_keys::{CallbackStatus, ErrorStrategy, Flow, Purpose};
use zeroize::Zeroizing;

pyo3::create_exception!(
    _tresor,
    WrongFlowError,
    PyValueError,
    "A get asked a key for a flow it does not have (args[0]: 'round_trip_needs_path' or 'one_way_needs_default')."
);

/// A key value as the user gave it: `str` or `bytes`.
#[derive(Clone)]
enum Val {
    Text(Zeroizing<String>),
    Bytes(Zeroizing<Vec<u8>>),
}

impl Val {
    fn of(o: &Bound<'_, PyAny>) -> PyResult<Val> {
        if let Ok(s) = o.cast::<PyString>() {
            return Ok(Val::Text(Zeroizing::new(s.to_cow()?.into_owned())));
        }
        if let Ok(b) = o.cast::<PyBytes>() {
            return Ok(Val::Bytes(Zeroizing::new(b.as_bytes().to_vec())));
        }
        Err(PyTypeError::new_err(format!(
            "a key value must be str or bytes, not {}",
            o.get_type().name()?
        )))
    }

    fn py<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match self {
            Val::Text(s) => PyString::new(py, s).into_any(),
            Val::Bytes(b) => PyBytes::new(py, b).into_any(),
        }
    }
}

/// A `(forward, back)` tuple of str/bytes from Python.
fn pair_of(o: &Bound<'_, PyAny>) -> PyResult<KeyPair<Val>> {
    let t = o
        .cast::<PyTuple>()
        .map_err(|_| PyTypeError::new_err("expected a (forward, back) tuple"))?;
    if t.len() != 2 {
        return Err(PyTypeError::new_err("expected a (forward, back) tuple"));
    }
    Ok(KeyPair {
        forward: Val::of(&t.get_item(0)?)?,
        back: Val::of(&t.get_item(1)?)?,
    })
}

fn pair_py<'py>(py: Python<'py>, p: &KeyPair<Val>) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, [p.forward.py(py), p.back.py(py)])
}

fn flow_name(f: Flow) -> &'static str {
    match f {
        Flow::Default => "DEFAULT",
        Flow::Forward => "FORWARD_PATH",
        Flow::Back => "BACK_PATH",
    }
}

fn flow_of(name: &str) -> PyResult<Flow> {
    match name {
        "DEFAULT" | "AUTHENTICATION" => Ok(Flow::Default),
        "FORWARD_PATH" | "ENCRYPTION" => Ok(Flow::Forward),
        "BACK_PATH" | "DECRYPTION" => Ok(Flow::Back),
        other => Err(PyValueError::new_err(format!(
            "'{other}' is not a SecretKeyFlow member name (DEFAULT, FORWARD_PATH, BACK_PATH)"
        ))),
    }
}

fn strategy_of(name: &str) -> PyResult<ErrorStrategy> {
    match name {
        "HALT" => Ok(ErrorStrategy::Halt),
        "SKIP" => Ok(ErrorStrategy::Skip),
        "SKIP_AND_RAISE" => Ok(ErrorStrategy::SkipAndRaise),
        "RAISE_IMMEDIATELY" => Ok(ErrorStrategy::RaiseImmediately),
        other => Err(PyValueError::new_err(format!(
            "'{other}' is not an OnKeyChangedCallbackErrorStrategy member name"
        ))),
    }
}

/// The Python side of one key: `pair()` calls the keys store and returns a validated
/// `(forward, back)` tuple, `one()` its single value, `fetch()` the saved state as
/// `None` or `(flow name or None, (forward, back) or None)`.
struct PyIo<'a, 'py> {
    pair: &'a Bound<'py, PyAny>,
    one: &'a Bound<'py, PyAny>,
    fetch: &'a Bound<'py, PyAny>,
}

impl LifecycleIo<Val> for PyIo<'_, '_> {
    type Error = PyErr;
    fn read_pair(&mut self) -> PyResult<KeyPair<Val>> {
        pair_of(&self.pair.call0()?)
    }
    fn read_one(&mut self) -> PyResult<Val> {
        Val::of(&self.one.call0()?)
    }
    fn fetch_state(&mut self) -> PyResult<Option<SavedState<Val>>> {
        let got = self.fetch.call0()?;
        if got.is_none() {
            return Ok(None);
        }
        let (flow, keys): (Option<String>, Bound<'_, PyAny>) = got.extract()?;
        Ok(Some(SavedState {
            flow: flow.as_deref().map(flow_of).transpose()?,
            keys: if keys.is_none() {
                None
            } else {
                Some(pair_of(&keys)?)
            },
        }))
    }
}

/// One defined key's lifecycle state (last flow, current and previous keys) and the
/// decisions of `get_key` and `save_state`; see tresor-keys' `lifecycle` module.
#[pyclass(module = "tresor._tresor")]
struct KeyLifecycle {
    core: Core<Val>,
}

#[pymethods]
impl KeyLifecycle {
    /// A key with no state: `round_trip` (else one-way), `stateless`, `keep_in_cache`.
    #[new]
    fn new(round_trip: bool, stateless: bool, keep_in_cache: bool) -> Self {
        let purpose = if round_trip {
            Purpose::RoundTrip
        } else {
            Purpose::OneWay
        };
        KeyLifecycle {
            core: Core::new(purpose, stateless, keep_in_cache),
        }
    }

    /// The value for `flow` (a `SecretKeyFlow` member name; None: the next flow) and the
    /// flow taken, as `(flow_name, value)`. `pair`, `one`, `fetch`: see the module. Raises
    /// `WrongFlowError` for a flow the key does not have, else what the callables raised.
    fn get<'py>(
        &mut self,
        py: Python<'py>,
        flow: Option<&str>,
        pair: &Bound<'py, PyAny>,
        one: &Bound<'py, PyAny>,
        fetch: &Bound<'py, PyAny>,
    ) -> PyResult<(&'static str, Bound<'py, PyAny>)> {
        let flow = flow.map(flow_of).transpose()?;
        let mut io = PyIo { pair, one, fetch };
        match self.core.get(flow, &mut io) {
            Ok((f, v)) => Ok((flow_name(f), v.py(py))),
            Err(LifecycleError::Io(e)) => Err(e),
            Err(LifecycleError::RoundTripNeedsPath) => {
                Err(WrongFlowError::new_err("round_trip_needs_path"))
            }
            Err(LifecycleError::OneWayNeedsDefault) => {
                Err(WrongFlowError::new_err("one_way_needs_default"))
            }
        }
    }

    /// What `save_state` writes: `(last flow name or None, back path value or None)`.
    fn state_to_save<'py>(
        &self,
        py: Python<'py>,
        pair: &Bound<'py, PyAny>,
    ) -> PyResult<(Option<&'static str>, Option<Bound<'py, PyAny>>)> {
        let none = py.None().into_bound(py);
        let mut io = PyIo {
            pair,
            one: &none,
            fetch: &none,
        };
        let (flow, key) = self.core.state_to_save(&mut io)?;
        Ok((flow.map(flow_name), key.map(|k| k.py(py))))
    }

    /// Reads the keys store (`pair()`): the current keys become the previous ones.
    fn set_keys_from_store(&mut self, py: Python<'_>, pair: &Bound<'_, PyAny>) -> PyResult<()> {
        let none = py.None().into_bound(py);
        let mut io = PyIo {
            pair,
            one: &none,
            fetch: &none,
        };
        self.core.set_keys_from_store(&mut io)
    }

    /// The last flow's name, or None.
    #[getter]
    fn last_flow(&self) -> Option<&'static str> {
        self.core.last_flow().map(flow_name)
    }

    /// Sets the last flow (a member name or None).
    #[setter]
    fn set_last_flow(&mut self, flow: Option<&str>) -> PyResult<()> {
        self.core.set_last_flow(flow.map(flow_of).transpose()?);
        Ok(())
    }

    /// The current keys as `(forward, back)`, or None.
    #[getter]
    fn current<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.core.current().map(|p| pair_py(py, p)).transpose()
    }

    /// The previous keys as `(forward, back)`, or None.
    #[getter]
    fn previous<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.core.previous().map(|p| pair_py(py, p)).transpose()
    }

    /// Sets the current keys (a `(forward, back)` tuple, or None).
    fn set_current(&mut self, keys: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let k = match keys {
            Some(k) if !k.is_none() => Some(pair_of(k)?),
            _ => None,
        };
        self.core.set_current(k);
        Ok(())
    }

    /// Any keys held.
    fn has_keys(&self) -> bool {
        self.core.has_keys()
    }

    /// Current keys become previous.
    fn clean_keys(&mut self) {
        self.core.clean_keys()
    }

    /// Forgets the previous keys.
    fn clean_previous_keys(&mut self) {
        self.core.clean_previous_keys()
    }

    /// Forgets every key.
    fn clean_state(&mut self) {
        self.core.clean_state()
    }

    fn __repr__(&self) -> String {
        format!("{:?}", self.core)
    }
}

fn status_name(s: CallbackStatus) -> &'static str {
    match s {
        CallbackStatus::Pending => "PENDING",
        CallbackStatus::Succeeded => "SUCCEEDED",
        CallbackStatus::Failed => "FAILED",
    }
}

/// `km_run_callbacks`' answer: outcome, callback named by the outcome, each callback's status.
type RunReport = (&'static str, Option<String>, Vec<(String, &'static str)>);

/// Runs the callbacks `names` in order through `run(name)` (which raises when the callback
/// failed) under `strategy` (an `OnKeyChangedCallbackErrorStrategy` member name). Returns
/// `(outcome, callback_name, statuses)`: outcome `"completed"` (name None), `"halted"` or
/// `"raise"` (the callback whose error is the cause); statuses `[(name, status name)]`.
#[pyfunction]
fn km_run_callbacks(
    strategy: &str,
    names: Vec<String>,
    run: &Bound<'_, PyAny>,
) -> PyResult<RunReport> {
    let strategy = strategy_of(strategy)?;
    let r = tresor_keys::lifecycle::run_callbacks(strategy, &names, |n| run.call1((n,)).map(drop));
    let statuses = r
        .statuses
        .iter()
        .map(|(n, s)| (n.clone(), status_name(*s)))
        .collect();
    Ok(match r.outcome {
        CallbacksOutcome::Completed => ("completed", None, statuses),
        CallbacksOutcome::Halted(n) => ("halted", Some(n), statuses),
        CallbacksOutcome::Raise(n) => ("raise", Some(n), statuses),
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<KeyLifecycle>()?;
    m.add_function(wrap_pyfunction!(km_run_callbacks, m)?)?;
    m.add("WrongFlowError", m.py().get_type::<WrongFlowError>())?;
    Ok(())
}
