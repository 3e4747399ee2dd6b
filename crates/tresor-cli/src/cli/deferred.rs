//! [`Deferred`]: a subcommand group clap builds only when the command line enters it.

use clap::Subcommand;

use super::with_global_opts;

/// A group of subcommands that clap builds only when the command line enters it.
///
/// `tresor get` used to build (and drop) the whole command tree, KMIP's dozens of client
/// operations included: half of the instructions of a `tresor get` run (callgrind). Deferred
/// groups cost nothing until used; `--help`, completions and parsing see the same tree.
#[derive(Debug, Clone)]
pub struct Deferred<T>(pub T);

impl<T: clap::FromArgMatches> clap::FromArgMatches for Deferred<T> {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(Deferred)
    }

    fn from_arg_matches_mut(m: &mut clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(m).map(Deferred)
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }

    fn update_from_arg_matches_mut(&mut self, m: &mut clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(m)
    }
}

impl<T: Subcommand> Subcommand for Deferred<T> {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        cmd.defer(|cmd| with_global_opts(T::augment_subcommands(cmd)))
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        cmd.defer(|cmd| with_global_opts(T::augment_subcommands_for_update(cmd)))
    }

    fn has_subcommand(name: &str) -> bool {
        T::has_subcommand(name)
    }
}
