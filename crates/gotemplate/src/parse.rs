//! Builds the tree of a template from its tokens, with Go's `text/template` grammar.

use std::collections::HashMap;

use crate::Error as TemplateError;
use crate::funcs::is_function;
use crate::lex::{Keyword, Tok, Token, lex};
use crate::value::Value;

/// One node of a parsed template.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action(Pipeline),
    If(Branch),
    With(Branch),
    Range(Branch),
    Template {
        name: String,
        pipe: Option<Pipeline>,
        line: usize,
    },
    Break,
    Continue,
}

#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub(crate) pipe: Pipeline,
    pub(crate) list: Vec<Node>,
    pub(crate) else_list: Vec<Node>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub(crate) line: usize,
    /// Variables declared (`:=`) or assigned (`=`) by this pipeline.
    pub(crate) vars: Vec<String>,
    pub(crate) is_assign: bool,
    pub(crate) cmds: Vec<Command>,
}

#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub(crate) args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Dot,
    Nil,
    Literal(Value),
    /// `.A.B` evaluated on dot.
    Field(Vec<String>),
    /// `$x.A.B`.
    Var(String, Vec<String>),
    /// A function name.
    Func(String),
    /// `(pipeline).A.B`.
    Pipe(Box<Pipeline>, Vec<String>),
}

pub(crate) struct Parsed {
    pub(crate) root: Vec<Node>,
    pub(crate) defines: HashMap<String, Vec<Node>>,
}

pub(crate) fn parse(src: &str) -> Result<Parsed, TemplateError> {
    let tokens = lex(src)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        vars: vec!["$".to_owned()],
        range_depth: 0,
        defines: HashMap::new(),
        nesting: 0,
    };
    let (root, end) = p.list(true)?;
    match end {
        Ender::Eof => {}
        Ender::End(line) => return Err(perr(line, "unexpected {{end}}")),
        Ender::Else(line) => return Err(perr(line, "unexpected {{else}}")),
    }
    Ok(Parsed {
        root,
        defines: p.defines,
    })
}

fn perr(line: usize, message: impl Into<String>) -> TemplateError {
    TemplateError::Parse {
        line,
        message: message.into(),
    }
}

enum Ender {
    Eof,
    End(usize),
    /// `{{else` was read; the rest of that action is still in the stream.
    Else(usize),
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    vars: Vec<String>,
    range_depth: usize,
    defines: HashMap<String, Vec<Node>>,
    nesting: usize,
}

/// How deeply control structures and parentheses may nest (keeps the parser's recursion, and
/// so its stack use, bounded on any input).
const MAX_NESTING: usize = 100;

impl Parser {
    fn enter(&mut self) -> Result<(), TemplateError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(perr(
                self.line(),
                format!("template nests deeper than {MAX_NESTING} levels"),
            ));
        }
        Ok(())
    }

    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn line(&self) -> usize {
        self.tokens
            .get(self.pos)
            .or_else(|| self.tokens.last())
            .map_or(1, |t| t.line)
    }

    fn next(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        tok
    }

    fn skip_space(&mut self) {
        while *self.peek() == Tok::Space {
            self.pos += 1;
        }
    }

    fn next_non_space(&mut self) -> Tok {
        self.skip_space();
        self.next()
    }

    fn expect_right(&mut self, context: &str) -> Result<(), TemplateError> {
        let line = self.line();
        match self.next_non_space() {
            Tok::Right => Ok(()),
            other => Err(perr(line, format!("unexpected {other:?} in {context}"))),
        }
    }

    /// Parses nodes until EOF, `{{end}}` or `{{else`.
    fn list(&mut self, top: bool) -> Result<(Vec<Node>, Ender), TemplateError> {
        let mut nodes = Vec::new();
        loop {
            let line = self.line();
            match self.next() {
                Tok::Eof => return Ok((nodes, Ender::Eof)),
                Tok::Text(t) => nodes.push(Node::Text(t)),
                Tok::Left => {
                    self.skip_space();
                    let line = self.line();
                    if let Tok::Keyword(kw) = self.peek().clone() {
                        {
                            self.pos += 1;
                            match kw {
                                Keyword::End => {
                                    self.expect_right("end")?;
                                    return Ok((nodes, Ender::End(line)));
                                }
                                Keyword::Else => return Ok((nodes, Ender::Else(line))),
                                Keyword::If => nodes.push(Node::If(self.branch("if")?)),
                                Keyword::With => nodes.push(Node::With(self.branch("with")?)),
                                Keyword::Range => {
                                    self.range_depth += 1;
                                    let b = self.branch("range");
                                    self.range_depth -= 1;
                                    nodes.push(Node::Range(b?));
                                }
                                Keyword::Break | Keyword::Continue => {
                                    if self.range_depth == 0 {
                                        return Err(perr(
                                            line,
                                            format!(
                                                "{{{{{}}}}} outside {{{{range}}}}",
                                                if kw == Keyword::Break {
                                                    "break"
                                                } else {
                                                    "continue"
                                                }
                                            ),
                                        ));
                                    }
                                    self.expect_right("break/continue")?;
                                    nodes.push(if kw == Keyword::Break {
                                        Node::Break
                                    } else {
                                        Node::Continue
                                    });
                                }
                                Keyword::Template => nodes.push(self.template_call(line)?),
                                Keyword::Define => {
                                    if !top {
                                        return Err(perr(
                                            line,
                                            "{{define}} inside a control structure",
                                        ));
                                    }
                                    self.define(line)?;
                                }
                                Keyword::Block => {
                                    let call = self.block(line)?;
                                    nodes.push(call);
                                }
                            }
                        }
                    } else {
                        let pipe = self.pipeline("command", false)?;
                        nodes.push(Node::Action(pipe));
                    }
                }
                other => return Err(perr(line, format!("unexpected {other:?}"))),
            }
        }
    }

    /// `if`/`with`/`range`: pipeline, body, optional else (incl. `else if`/`else with`), end.
    fn branch(&mut self, context: &'static str) -> Result<Branch, TemplateError> {
        self.enter()?;
        let result = self.branch_inner(context);
        self.nesting -= 1;
        result
    }

    fn branch_inner(&mut self, context: &'static str) -> Result<Branch, TemplateError> {
        let mark = self.vars.len();
        let pipe = self.pipeline(context, context == "range")?;
        let (list, ender) = self.list(false)?;
        let else_list = match ender {
            Ender::End(_) => Vec::new(),
            Ender::Eof => {
                return Err(perr(
                    self.line(),
                    format!("unexpected EOF in {{{{{context}}}}}"),
                ));
            }
            Ender::Else(line) => {
                self.skip_space();
                match self.peek().clone() {
                    // `{{else if ...}}` / `{{else with ...}}` chain: one shared {{end}}.
                    Tok::Keyword(kw @ (Keyword::If | Keyword::With))
                        if (kw == Keyword::If && context == "if")
                            || (kw == Keyword::With && context == "with") =>
                    {
                        self.pos += 1;
                        let inner = self.branch(context)?;
                        vec![if kw == Keyword::If {
                            Node::If(inner)
                        } else {
                            Node::With(inner)
                        }]
                    }
                    _ => {
                        self.expect_right("else")?;
                        let (else_list, ender) = self.list(false)?;
                        match ender {
                            Ender::End(_) => else_list,
                            Ender::Else(line) => {
                                return Err(perr(
                                    line,
                                    format!("expected end; found {{{{else}}}} in {context}"),
                                ));
                            }
                            Ender::Eof => {
                                return Err(perr(
                                    line,
                                    format!("unexpected EOF in {{{{{context}}}}}"),
                                ));
                            }
                        }
                    }
                }
            }
        };
        self.vars.truncate(mark);
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&mut self, what: &str) -> Result<String, TemplateError> {
        let line = self.line();
        match self.next_non_space() {
            Tok::Str(name) => Ok(name),
            other => Err(perr(
                line,
                format!("unexpected {other:?} in {what}; expected a quoted name"),
            )),
        }
    }

    fn template_call(&mut self, line: usize) -> Result<Node, TemplateError> {
        let name = self.template_name("template clause")?;
        self.skip_space();
        let pipe = if *self.peek() == Tok::Right {
            self.pos += 1;
            None
        } else {
            Some(self.pipeline("template clause", false)?)
        };
        Ok(Node::Template { name, pipe, line })
    }

    fn define(&mut self, line: usize) -> Result<(), TemplateError> {
        let name = self.template_name("define clause")?;
        self.expect_right("define clause")?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let result = self.list(false);
        self.vars = saved;
        let (body, ender) = result?;
        if !matches!(ender, Ender::End(_)) {
            return Err(perr(line, "{{define}} without {{end}}"));
        }
        self.defines.insert(name, body);
        Ok(())
    }

    fn block(&mut self, line: usize) -> Result<Node, TemplateError> {
        let name = self.template_name("block clause")?;
        let pipe = self.pipeline("block clause", false)?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let saved_depth = std::mem::replace(&mut self.range_depth, 0);
        let result = self.list(false);
        self.vars = saved;
        self.range_depth = saved_depth;
        let (body, ender) = result?;
        if !matches!(ender, Ender::End(_)) {
            return Err(perr(line, "{{block}} without {{end}}"));
        }
        self.defines.insert(name.clone(), body);
        Ok(Node::Template {
            name,
            pipe: Some(pipe),
            line,
        })
    }

    /// A pipeline up to `}}` (consumed) or `)` (not consumed).
    // Declarations, commands and the checks Go makes on them, in Go's order.
    #[allow(clippy::too_many_lines)]
    fn pipeline(&mut self, context: &str, allow_two_vars: bool) -> Result<Pipeline, TemplateError> {
        let line = self.line();
        let mut vars = Vec::new();
        let mut is_assign = false;
        // Declarations: `$x :=`, `$x =`, `$i, $e :=` (range only).
        let save = self.pos;
        self.skip_space();
        if let Tok::Var(first) = self.peek().clone() {
            self.pos += 1;
            self.skip_space();
            match self.peek().clone() {
                Tok::Declare | Tok::Assign => {
                    is_assign = *self.peek() == Tok::Assign;
                    self.pos += 1;
                    vars.push(first);
                }
                Tok::Comma if allow_two_vars => {
                    self.pos += 1;
                    self.skip_space();
                    let Tok::Var(second) = self.next() else {
                        return Err(perr(
                            line,
                            "expected a second variable after comma in range",
                        ));
                    };
                    self.skip_space();
                    match self.next() {
                        Tok::Declare => {}
                        Tok::Assign => is_assign = true,
                        other => {
                            return Err(perr(
                                line,
                                format!("unexpected {other:?} in range declaration"),
                            ));
                        }
                    }
                    vars.push(first);
                    vars.push(second);
                }
                _ => self.pos = save,
            }
        } else {
            self.pos = save;
        }
        if is_assign {
            for v in &vars {
                if !self.vars.contains(v) {
                    return Err(perr(line, format!("undefined variable {v:?}")));
                }
            }
        }
        let mut cmds = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                Tok::Right => {
                    self.pos += 1;
                    break;
                }
                Tok::RParen => break,
                _ => {}
            }
            let cmd = self.command(line)?;
            cmds.push(cmd);
            self.skip_space();
            match self.peek() {
                Tok::Pipe => {
                    self.pos += 1;
                }
                Tok::Right => {
                    self.pos += 1;
                    break;
                }
                Tok::RParen => break,
                other => return Err(perr(line, format!("unexpected {other:?} in {context}"))),
            }
        }
        if cmds.is_empty() {
            return Err(perr(line, format!("missing value for {context}")));
        }
        for (i, cmd) in cmds.iter().enumerate().skip(1) {
            if !matches!(
                cmd.args.first(),
                Some(Arg::Func(_) | Arg::Field(_) | Arg::Var(..) | Arg::Pipe(..))
            ) {
                return Err(perr(
                    line,
                    format!("non executable command in pipeline stage {}", i + 1),
                ));
            }
        }
        if matches!(cmds[0].args.first(), Some(Arg::Nil))
            && cmds[0].args.len() == 1
            && cmds.len() == 1
        {
            return Err(perr(line, "nil is not a command"));
        }
        if !is_assign {
            // Declared variables are visible from here to the end of the enclosing structure.
            self.vars.extend(vars.iter().cloned());
        }
        Ok(Pipeline {
            line,
            vars,
            is_assign,
            cmds,
        })
    }

    fn command(&mut self, line: usize) -> Result<Command, TemplateError> {
        let mut args = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                Tok::Pipe | Tok::Right | Tok::RParen => break,
                _ => {}
            }
            args.push(self.operand(line)?);
            match self.peek() {
                Tok::Space | Tok::Pipe | Tok::Right | Tok::RParen => {}
                other => return Err(perr(line, format!("unexpected {other:?} in operand"))),
            }
        }
        if args.is_empty() {
            return Err(perr(line, "empty command"));
        }
        Ok(Command { args })
    }

    fn chain(&mut self) -> Vec<String> {
        let mut fields = Vec::new();
        while let Tok::Field(name) = self.peek().clone() {
            self.pos += 1;
            fields.push(name);
        }
        fields
    }

    fn operand(&mut self, line: usize) -> Result<Arg, TemplateError> {
        let arg = match self.next() {
            Tok::Dot => {
                if matches!(self.peek(), Tok::Field(_)) {
                    return Err(perr(line, "unexpected . after term \".\""));
                }
                Arg::Dot
            }
            Tok::Nil => Arg::Nil,
            Tok::Bool(b) => Arg::Literal(Value::Bool(b)),
            Tok::Str(s) => Arg::Literal(Value::from(s)),
            Tok::Char(c) => Arg::Literal(Value::Int(i64::from(u32::from(c)))),
            Tok::Number(n) => Arg::Literal(
                parse_number(&n).ok_or_else(|| perr(line, format!("bad number syntax: {n:?}")))?,
            ),
            Tok::Field(first) => {
                let mut fields = vec![first];
                fields.extend(self.chain());
                Arg::Field(fields)
            }
            Tok::Var(name) => {
                if !self.vars.contains(&name) {
                    return Err(perr(line, format!("undefined variable {name:?}")));
                }
                let fields = self.chain();
                Arg::Var(name, fields)
            }
            Tok::Ident(name) => {
                if !is_function(&name) {
                    return Err(perr(line, format!("function {name:?} not defined")));
                }
                if matches!(self.peek(), Tok::Field(_)) {
                    return Err(perr(
                        line,
                        format!("unexpected field after function {name:?}"),
                    ));
                }
                Arg::Func(name)
            }
            Tok::LParen => {
                self.enter()?;
                let pipe = self.pipeline("parenthesized pipeline", false);
                self.nesting -= 1;
                let pipe = pipe?;
                if self.next() != Tok::RParen {
                    return Err(perr(line, "unclosed left paren"));
                }
                let fields = self.chain();
                Arg::Pipe(Box::new(pipe), fields)
            }
            other => return Err(perr(line, format!("unexpected {other:?} in operand"))),
        };
        Ok(arg)
    }
}

/// Go number literals: decimal, hex, octal, binary integers (with `_`), floats.
fn parse_number(text: &str) -> Option<Value> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let int = if let Some(hex) = lower.strip_prefix("0x") {
        if hex.contains('p') || hex.contains('.') {
            None
        } else {
            i64::from_str_radix(hex, 16).ok()
        }
    } else if let Some(oct) = lower.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else if let Some(bin) = lower.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else if lower.bytes().all(|b| b.is_ascii_digit()) && !lower.is_empty() {
        lower.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Some(Value::Int(if neg { -i } else { i }));
    }
    if lower.starts_with("0x") || lower.is_empty() || !lower.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    if !lower
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
    {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    Some(Value::Float(if neg { -f } else { f }))
}
