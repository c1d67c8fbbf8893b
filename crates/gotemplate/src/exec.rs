//! Runs a parsed template against a value, with Go's `text/template` semantics.

use crate::Error as TemplateError;
use crate::funcs;
use crate::parse::{Arg, Branch, Command, Node, Parsed, Pipeline};
use crate::value::Value;

/// Work limits that keep any template, however odd, bounded in time and memory.
const MAX_STEPS: u64 = 1_000_000;
const MAX_OUTPUT: usize = 4 * 1024 * 1024;
const MAX_CALL_DEPTH: usize = 50;

enum Flow {
    Normal,
    Break,
    Continue,
}

pub(crate) fn execute(parsed: &Parsed, data: &Value) -> Result<String, TemplateError> {
    let mut exec = Exec {
        parsed,
        out: String::new(),
        vars: vec![("$".to_owned(), data.clone())],
        steps: 0,
        depth: 0,
        line: 1,
    };
    exec.walk(data, &parsed.root)?;
    Ok(exec.out)
}

struct Exec<'t> {
    parsed: &'t Parsed,
    out: String,
    vars: Vec<(String, Value)>,
    steps: u64,
    depth: usize,
    line: usize,
}

impl Exec<'_> {
    fn err(&self, message: impl Into<String>) -> TemplateError {
        TemplateError::Exec {
            line: self.line,
            message: message.into(),
        }
    }

    fn step(&mut self) -> Result<(), TemplateError> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(self.err(format!("template took more than {MAX_STEPS} steps")));
        }
        if self.out.len() > MAX_OUTPUT {
            return Err(self.err(format!("template output exceeds {MAX_OUTPUT} bytes")));
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value, nodes: &[Node]) -> Result<Flow, TemplateError> {
        for node in nodes {
            self.step()?;
            match node {
                Node::Text(text) => self.out.push_str(text),
                Node::Action(pipe) => {
                    let value = self.pipeline(dot, pipe, true)?;
                    if pipe.vars.is_empty() {
                        value.write_display(&mut self.out);
                    }
                }
                Node::If(branch) => {
                    let flow = self.if_or_with(dot, branch, false)?;
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::With(branch) => {
                    let flow = self.if_or_with(dot, branch, true)?;
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(branch) => self.range(dot, branch)?,
                Node::Template { name, pipe, line } => {
                    self.line = *line;
                    let Some(body) = self.parsed.defines.get(name) else {
                        return Err(self.err(format!("no such template {name:?}")));
                    };
                    let new_dot = match pipe {
                        Some(p) => self.pipeline(dot, p, true)?,
                        None => Value::Nil,
                    };
                    if self.depth >= MAX_CALL_DEPTH {
                        return Err(self.err(format!(
                            "exceeded maximum template depth ({MAX_CALL_DEPTH})"
                        )));
                    }
                    self.depth += 1;
                    let saved =
                        std::mem::replace(&mut self.vars, vec![("$".to_owned(), new_dot.clone())]);
                    let result = self.walk(&new_dot, body);
                    self.vars = saved;
                    self.depth -= 1;
                    result?;
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn if_or_with(
        &mut self,
        dot: &Value,
        branch: &Branch,
        with: bool,
    ) -> Result<Flow, TemplateError> {
        let mark = self.vars.len();
        let value = self.pipeline(dot, &branch.pipe, true)?;
        let result = if value.truthy() {
            let new_dot = if with { value } else { dot.clone() };
            self.walk(&new_dot, &branch.list)
        } else {
            self.walk(dot, &branch.else_list)
        };
        self.vars.truncate(mark);
        result
    }

    fn range(&mut self, dot: &Value, branch: &Branch) -> Result<(), TemplateError> {
        let mark = self.vars.len();
        let value = self.pipeline(dot, &branch.pipe, false)?;
        let items: Vec<(Value, Value)> = match value.basic() {
            Value::List(list) => list
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::Int(i64::try_from(i).unwrap_or(i64::MAX)), v.clone()))
                .collect(),
            Value::Map(map) => map
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), v.clone()))
                .collect(),
            // A missing value ranges as empty; a nil interface (`.Report` without a
            // report) is an error, as in Go.
            Value::NoValue => Vec::new(),
            _ => {
                return Err(self.err(format!("range can't iterate over {}", value.display())));
            }
        };
        if items.is_empty() {
            let result = self.walk(dot, &branch.else_list);
            self.vars.truncate(mark);
            return result.map(|_| ());
        }
        for (key, elem) in items {
            self.step()?;
            let inner = self.vars.len();
            match branch.pipe.vars.as_slice() {
                [] => {}
                [one] => self.bind(one, elem.clone(), branch.pipe.is_assign),
                [k, v, ..] => {
                    self.bind(k, key, branch.pipe.is_assign);
                    self.bind(v, elem.clone(), branch.pipe.is_assign);
                }
            }
            let flow = self.walk(&elem, &branch.list);
            // Variables declared in the body live for one iteration; the range variables too.
            self.vars.truncate(inner.max(mark));
            match flow? {
                Flow::Break => break,
                Flow::Normal | Flow::Continue => {}
            }
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn bind(&mut self, name: &str, value: Value, assign: bool) {
        if assign && let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = value;
            return;
        }
        self.vars.push((name.to_owned(), value));
    }

    fn var(&self, name: &str) -> Result<Value, TemplateError> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.err(format!("undefined variable: {name}")))
    }

    /// Evaluates a pipeline; with `declare`, binds its declared variables.
    fn pipeline(
        &mut self,
        dot: &Value,
        pipe: &Pipeline,
        declare: bool,
    ) -> Result<Value, TemplateError> {
        self.line = pipe.line;
        let mut last: Option<Value> = None;
        for cmd in &pipe.cmds {
            let value = self.command(dot, cmd, last.take())?;
            last = Some(value);
        }
        let value = last.unwrap_or(Value::NoValue);
        if declare {
            for name in &pipe.vars {
                if pipe.is_assign && !self.vars.iter().any(|(n, _)| n == name) {
                    // Go checks an assigned variable when it runs, not when it parses.
                    return Err(self.err(format!("undefined variable: {name}")));
                }
                self.bind(name, value.clone(), pipe.is_assign);
            }
        }
        Ok(value)
    }

    fn command(
        &mut self,
        dot: &Value,
        cmd: &Command,
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        self.step()?;
        let (head, rest) = cmd
            .args
            .split_first()
            .ok_or_else(|| self.err("empty command"))?;
        match head {
            Arg::Func(name) if name == "and" || name == "or" => {
                // Short-circuit: stop at the first falsy (and) / truthy (or) argument.
                let want = name == "or";
                if rest.is_empty() && piped.is_none() {
                    return Err(self.err(format!(
                        "wrong number of args for {name}: want at least 1 got 0"
                    )));
                }
                let mut value = Value::NoValue;
                for arg in rest {
                    value = self.arg(dot, arg)?;
                    if value.truthy() == want {
                        return Ok(value);
                    }
                }
                if let Some(p) = piped {
                    value = p;
                }
                Ok(value)
            }
            Arg::Func(name) => {
                let args = self.args(dot, rest, piped)?;
                funcs::call(name, &args).map_err(|e| self.err(format!("error calling {name}: {e}")))
            }
            Arg::Field(chain) => {
                let args = self.args(dot, rest, piped)?;
                self.chain(dot.clone(), chain, &args)
            }
            Arg::Var(name, chain) => {
                let base = self.var(name)?;
                let args = self.args(dot, rest, piped)?;
                if chain.is_empty() {
                    self.no_args(&args, name)?;
                    return Ok(base);
                }
                self.chain(base, chain, &args)
            }
            Arg::Pipe(pipe, chain) => {
                let base = self.pipeline(dot, pipe, true)?;
                let args = self.args(dot, rest, piped)?;
                if chain.is_empty() {
                    self.no_args(&args, "parenthesized pipeline")?;
                    return Ok(base);
                }
                self.chain(base, chain, &args)
            }
            Arg::Nil => Err(self.err("nil is not a command")),
            Arg::Overflow(text) => Err(self.err(format!("{text} overflows int"))),
            Arg::Dot | Arg::Literal(_) => {
                let args = self.args(dot, rest, piped)?;
                let value = self.arg(dot, head)?;
                self.no_args(&args, &value.display())?;
                Ok(value)
            }
        }
    }

    fn no_args(&self, args: &[Value], what: &str) -> Result<(), TemplateError> {
        if args.is_empty() {
            Ok(())
        } else {
            Err(self.err(format!("can't give argument to non-function {what}")))
        }
    }

    fn args(
        &mut self,
        dot: &Value,
        args: &[Arg],
        piped: Option<Value>,
    ) -> Result<Vec<Value>, TemplateError> {
        let mut values = Vec::with_capacity(args.len() + 1);
        for arg in args {
            values.push(self.arg(dot, arg)?);
        }
        values.extend(piped);
        Ok(values)
    }

    fn arg(&mut self, dot: &Value, arg: &Arg) -> Result<Value, TemplateError> {
        match arg {
            Arg::Dot => Ok(dot.clone()),
            Arg::Nil => Ok(Value::Nil),
            Arg::Literal(v) => Ok(v.clone()),
            Arg::Overflow(text) => Err(self.err(format!("{text} overflows int"))),
            Arg::Field(chain) => self.chain(dot.clone(), chain, &[]),
            Arg::Var(name, chain) => {
                let base = self.var(name)?;
                if chain.is_empty() {
                    Ok(base)
                } else {
                    self.chain(base, chain, &[])
                }
            }
            Arg::Pipe(pipe, chain) => {
                let base = self.pipeline(dot, pipe, true)?;
                if chain.is_empty() {
                    Ok(base)
                } else {
                    self.chain(base, chain, &[])
                }
            }
            Arg::Func(name) => {
                if name == "and" || name == "or" {
                    return Err(self.err(format!(
                        "wrong number of args for {name}: want at least 1 got 0"
                    )));
                }
                funcs::call(name, &[]).map_err(|e| self.err(format!("error calling {name}: {e}")))
            }
        }
    }

    fn chain(
        &mut self,
        mut receiver: Value,
        chain: &[String],
        args: &[Value],
    ) -> Result<Value, TemplateError> {
        let Some((last, links)) = chain.split_last() else {
            return Ok(receiver);
        };
        for name in links {
            receiver = self.field(&receiver, name, &[])?;
        }
        self.field(&receiver, last, args)
    }

    fn field(&self, receiver: &Value, name: &str, args: &[Value]) -> Result<Value, TemplateError> {
        match receiver {
            Value::Map(map) => {
                if !args.is_empty() {
                    return Err(self.err(format!("{name} is not a method but has arguments")));
                }
                Ok(map.get(name).cloned().unwrap_or(Value::NoValue))
            }
            Value::Object(object) => match object.get(name, args) {
                Some(result) => result.map_err(|e| self.err(e)),
                None => Err(self.err(format!(
                    "can't evaluate field {name} in type {}",
                    object.type_name()
                ))),
            },
            // A missing map key chains on as a missing value, as in Go.
            Value::NoValue => Ok(Value::NoValue),
            Value::Nil => Err(self.err(format!("nil pointer evaluating interface {{}}.{name}"))),
            other => Err(self.err(format!(
                "can't evaluate field {name} in type {}",
                other.type_name()
            ))),
        }
    }
}
