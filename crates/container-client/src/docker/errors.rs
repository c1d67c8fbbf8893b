//! Translation of bollard's errors into this crate's [`Error`], with the name of what was
//! being worked on.

use bollard::errors::Error as Bollard;

use crate::error::Error;

/// What an operation was about.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    Container(&'a str),
    Image(&'a str),
    Engine,
}

/// The context needed to turn an engine error into a useful one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorContext<'a> {
    pub(crate) host: &'a str,
    pub(crate) operation: &'static str,
    pub(crate) target: Target<'a>,
}

impl ErrorContext<'_> {
    /// 404 -> `NotFound`; other engine answers -> `Container`/`Image` with the engine's message;
    /// transport failures -> `Engine`.
    pub(crate) fn translate(&self, e: Bollard) -> Error {
        match e {
            Bollard::DockerResponseServerError {
                status_code: 404,
                message,
            } => match self.target {
                Target::Container(name) => Error::NotFound {
                    kind: "container",
                    name: name.to_owned(),
                },
                Target::Image(name) => Error::NotFound {
                    kind: "image",
                    name: name.to_owned(),
                },
                Target::Engine => self.engine(&message),
            },
            Bollard::DockerResponseServerError { message, .. }
            | Bollard::DockerStreamError { error: message } => self.stream_error(&message),
            Bollard::RequestTimeoutError => self.engine("no answer within the request timeout"),
            other => self.engine(&other.to_string()),
        }
    }

    /// An error the engine reported for this operation.
    pub(crate) fn stream_error(&self, message: &str) -> Error {
        let message = message.trim().to_owned();
        match self.target {
            Target::Container(name) => Error::Container {
                operation: self.operation,
                container: name.to_owned(),
                message,
            },
            Target::Image(name) => Error::Image {
                operation: self.operation,
                image: name.to_owned(),
                message,
            },
            Target::Engine => self.engine(&message),
        }
    }

    fn engine(&self, message: &str) -> Error {
        Error::Engine {
            host: self.host.to_owned(),
            message: format!("{}: {message}", self.operation),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(target: Target<'_>) -> ErrorContext<'_> {
        ErrorContext {
            host: "unix:///var/run/docker.sock",
            operation: "stop",
            target,
        }
    }

    fn server(status_code: u16, message: &str) -> Bollard {
        Bollard::DockerResponseServerError {
            status_code,
            message: message.to_owned(),
        }
    }

    #[test]
    fn not_found_names_the_container_or_image() {
        let e = ctx(Target::Container("web")).translate(server(404, "No such container: web"));
        assert!(matches!(&e, Error::NotFound { kind: "container", name } if name == "web"));
        assert_eq!(e.to_string(), "container web not found");
        let e = ctx(Target::Image("r/web:1")).translate(server(404, "manifest unknown"));
        assert_eq!(e.to_string(), "image r/web:1 not found");
    }

    #[test]
    fn other_answers_carry_the_engine_message_and_the_name() {
        let e = ctx(Target::Container("web")).translate(server(409, "conflict: in use\n"));
        assert_eq!(e.to_string(), "stop container web: conflict: in use");
        let e = ErrorContext {
            operation: "pull",
            ..ctx(Target::Image("r/web"))
        }
        .translate(Bollard::DockerStreamError {
            error: "unauthorized: authentication required".into(),
        });
        assert_eq!(
            e.to_string(),
            "pull image r/web: unauthorized: authentication required"
        );
    }

    #[test]
    fn transport_failures_name_the_engine() {
        let e = ctx(Target::Container("web")).translate(Bollard::RequestTimeoutError);
        assert_eq!(
            e.to_string(),
            "docker engine at unix:///var/run/docker.sock: stop: no answer within the request timeout"
        );
    }
}
