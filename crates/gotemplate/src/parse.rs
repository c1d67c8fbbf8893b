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
    /// An integer literal above Go's `int` (`9223372036854775808`): an error when evaluated.
    Overflow(String),
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
    let (mut root, end) = p.list(true)?;
    match end {
        Ender::Eof => {}
        Ender::End(line) => return Err(perr(line, "unexpected {{end}}")),
        Ender::Else(line) => return Err(perr(line, "unexpected {{else}}")),
    }
    // The main template is the one named "" (Go's `template.New("")`): `{{define ""}}`
    // gives it a body, under the same rule as any other redefinition.
    if let Some(main) = p.defines.get("") {
        if is_empty_tree(&root) {
            root.clone_from(main);
        } else if !is_empty_tree(main) {
            return Err(perr(1, "template: multiple definition of template \"\""));
        }
    }
    Ok(Parsed {
        root,
        defines: p.defines,
    })
}

/// Go's `parse.IsEmptyTree`: only white space.
fn is_empty_tree(nodes: &[Node]) -> bool {
    nodes
        .iter()
        .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
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
        self.add_define(name, body, line)
    }

    /// Go's `(*Tree).add`: an empty body never replaces a definition, and a second
    /// non-empty one is an error.
    fn add_define(
        &mut self,
        name: String,
        body: Vec<Node>,
        line: usize,
    ) -> Result<(), TemplateError> {
        match self.defines.get(&name) {
            Some(old) if !is_empty_tree(old) => {
                if is_empty_tree(&body) {
                    Ok(())
                } else {
                    Err(perr(
                        line,
                        format!("template: multiple definition of template {name:?}"),
                    ))
                }
            }
            _ => {
                self.defines.insert(name, body);
                Ok(())
            }
        }
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
        self.add_define(name.clone(), body, line)?;
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
            Tok::Number(n) => match parse_number(&n).map_err(|e| perr(line, e))? {
                Some(v) => Arg::Literal(v),
                None => Arg::Overflow(n),
            },
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

/// Go's `strconv` `underscoreOK`: `_` only between digits or after a base prefix.
fn underscore_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Go's `strconv.ParseUint(s, 0, 64)` on the text after a sign.
fn parse_uint_base0(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(&digits, radix).ok()
}

/// Go's `strconv.ParseFloat(s, 64)` for literals starting with a digit (or `.`): decimal
/// and hexadecimal (`0x1.8p1`) forms; out of range is an error, as in Go.
fn parse_float(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let f = if let Some(hex) = lower.strip_prefix("0x") {
        let (mantissa, exp) = hex.split_once('p')?;
        let exp: i32 = exp.parse().ok()?;
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let mut value = 0f64;
        for c in int.chars().chain(frac.chars()) {
            value = value * 16.0 + f64::from(c.to_digit(16)?);
        }
        let shift = exp - 4 * i32::try_from(frac.len()).ok()?;
        value * 2f64.powi(shift)
    } else {
        if !lower
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
            || !lower.bytes().any(|b| b.is_ascii_digit())
        {
            return None;
        }
        lower.parse::<f64>().ok()?
    };
    if f.is_infinite() {
        return None;
    }
    Some(if neg { -f } else { f })
}

/// A Go number literal as `text/template` reads it (`parse.NumberNode` and `idealConstant`):
/// an `int`, or a `float64` when written with `.`, an exponent or `p` (`1e3`, `0x1p4`);
/// `Ok(None)` for an integer that fits only a `uint64` (an error when evaluated);
/// `Err` when it is no number (`1__0`, `1e309`) or an integer too large for any
/// (`integer overflow`).
fn parse_number(text: &str) -> Result<Option<Value>, String> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let ok = underscore_ok(text);
    let unsigned = if ok { parse_uint_base0(body) } else { None };
    let int = unsigned.and_then(|u| {
        if neg {
            0i64.checked_sub_unsigned(u)
        } else {
            i64::try_from(u).ok()
        }
    });
    let looks_float = text.contains(['.', 'e', 'E', 'p', 'P'])
        && !(body.len() > 2 && body[..2].eq_ignore_ascii_case("0x") && !body.contains(['p', 'P']));
    if let Some(i) = int {
        return Ok(Some(Value::Int(i)));
    }
    if unsigned.is_some() && !neg {
        return Ok(None);
    }
    match if ok { parse_float(text) } else { None } {
        Some(f) if looks_float => Ok(Some(Value::Float(f))),
        Some(_) => Err(format!("integer overflow: {text:?}")),
        None => Err(format!("illegal number syntax: {text:?}")),
    }
}
