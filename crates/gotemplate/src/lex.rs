//! Splits a template into text and action tokens, as Go's `text/template/parse` lexer does.

use crate::Error as TemplateError;

/// A keyword that starts or ends a control structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    If,
    Else,
    End,
    Range,
    With,
    Define,
    Template,
    Block,
    Break,
    Continue,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    Left,
    Right,
    Space,
    Dot,
    /// `.Name` (one link of a field chain).
    Field(String),
    /// `$` or `$name`.
    Var(String),
    Ident(String),
    Keyword(Keyword),
    Str(String),
    Char(char),
    Number(String),
    Bool(bool),
    Nil,
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) line: usize,
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

pub(crate) fn lex(src: &str) -> Result<Vec<Token>, TemplateError> {
    let mut lexer = Lexer {
        src,
        pos: 0,
        line: 1,
        out: Vec::new(),
        trim_next_text: false,
    };
    lexer.run()?;
    Ok(lexer.out)
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    out: Vec<Token>,
    trim_next_text: bool,
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn emit(&mut self, tok: Tok, line: usize) {
        self.out.push(Token { tok, line });
    }

    fn err(&self, msg: impl Into<String>) -> TemplateError {
        TemplateError::Parse {
            line: self.line,
            message: msg.into(),
        }
    }

    fn run(&mut self) -> Result<(), TemplateError> {
        loop {
            let start_line = self.line;
            let text_end = self
                .rest()
                .find(LEFT)
                .map_or(self.src.len(), |i| self.pos + i);
            let mut text = &self.src[self.pos..text_end];
            // A left trim marker is "{{-" followed by a space character.
            let trim_left = text_end < self.src.len() && {
                let after = &self.src[text_end + LEFT.len()..];
                after.starts_with('-') && after[1..].starts_with(is_space)
            };
            if self.trim_next_text {
                text = text.trim_start_matches(is_space);
                self.trim_next_text = false;
            }
            if trim_left {
                text = text.trim_end_matches(is_space);
            }
            self.line += self.src[self.pos..text_end].matches('\n').count();
            self.pos = text_end;
            if !text.is_empty() {
                self.emit(Tok::Text(text.to_owned()), start_line);
            }
            if self.pos >= self.src.len() {
                self.emit(Tok::Eof, self.line);
                return Ok(());
            }
            self.pos += LEFT.len();
            if trim_left {
                self.pos += 2; // the dash and one space character
                if self.src.as_bytes()[self.pos - 1] == b'\n' {
                    self.line += 1;
                }
            }
            self.action()?;
        }
    }

    /// Lexes one action, from just after `{{` (and any trim marker) to just after `}}`.
    // One arm per token kind reads better than helpers that each need the whole state.
    #[allow(clippy::too_many_lines)]
    fn action(&mut self) -> Result<(), TemplateError> {
        // A comment must follow the delimiter immediately.
        if self.rest().starts_with("/*") {
            let Some(end) = self.rest().find("*/") else {
                return Err(self.err("unclosed comment"));
            };
            let comment = &self.rest()[..end + 2];
            self.line += comment.matches('\n').count();
            self.pos += end + 2;
            if self.rest().starts_with(RIGHT) {
                self.pos += RIGHT.len();
            } else if self.rest().starts_with(is_space) && self.rest()[1..].starts_with("-}}") {
                self.pos += 1 + 1 + RIGHT.len();
                self.trim_next_text = true;
            } else {
                return Err(self.err("comment ends before closing delimiter"));
            }
            return Ok(());
        }
        let line = self.line;
        self.emit(Tok::Left, line);
        let mut paren_depth = 0usize;
        loop {
            let line = self.line;
            let Some(c) = self.peek() else {
                return Err(self.err("unclosed action"));
            };
            if self.rest().starts_with(RIGHT) {
                if paren_depth > 0 {
                    return Err(self.err("unclosed left paren"));
                }
                self.pos += RIGHT.len();
                self.emit(Tok::Right, line);
                return Ok(());
            }
            if is_space(c) {
                // " -}}" closes the action and trims the following text.
                let spaces = self.rest().len() - self.rest().trim_start_matches(is_space).len();
                if self.rest()[spaces..].starts_with("-}}") && spaces > 0 {
                    if paren_depth > 0 {
                        return Err(self.err("unclosed left paren"));
                    }
                    for _ in 0..spaces {
                        self.bump();
                    }
                    self.pos += 1 + RIGHT.len();
                    self.emit(Tok::Right, line);
                    self.trim_next_text = true;
                    return Ok(());
                }
                while self.peek().is_some_and(is_space) {
                    self.bump();
                }
                self.emit(Tok::Space, line);
                continue;
            }
            match c {
                '"' => {
                    let s = self.quoted()?;
                    self.emit(Tok::Str(s), line);
                }
                '`' => {
                    self.bump();
                    let Some(end) = self.rest().find('`') else {
                        return Err(self.err("unterminated raw quoted string"));
                    };
                    let s = self.rest()[..end].to_owned();
                    self.line += s.matches('\n').count();
                    self.pos += end + 1;
                    self.emit(Tok::Str(s), line);
                }
                '\'' => {
                    let ch = self.char_constant()?;
                    self.emit(Tok::Char(ch), line);
                }
                '$' => {
                    self.bump();
                    let name = self.word();
                    self.emit(Tok::Var(format!("${name}")), line);
                }
                '.' => {
                    if self.peek2().is_some_and(|d| d.is_ascii_digit()) {
                        let n = self.number();
                        self.emit(Tok::Number(n), line);
                    } else {
                        self.bump();
                        if self.peek().is_some_and(is_alnum) {
                            let name = self.word();
                            self.emit(Tok::Field(name), line);
                        } else {
                            self.emit(Tok::Dot, line);
                        }
                    }
                }
                '(' => {
                    self.bump();
                    paren_depth += 1;
                    self.emit(Tok::LParen, line);
                }
                ')' => {
                    self.bump();
                    if paren_depth == 0 {
                        return Err(self.err("unexpected right paren"));
                    }
                    paren_depth -= 1;
                    self.emit(Tok::RParen, line);
                }
                '|' => {
                    self.bump();
                    self.emit(Tok::Pipe, line);
                }
                ',' => {
                    self.bump();
                    self.emit(Tok::Comma, line);
                }
                ':' => {
                    self.bump();
                    if self.peek() != Some('=') {
                        return Err(self.err("expected :="));
                    }
                    self.bump();
                    self.emit(Tok::Declare, line);
                }
                '=' => {
                    self.bump();
                    self.emit(Tok::Assign, line);
                }
                c if c.is_ascii_digit()
                    || ((c == '-' || c == '+')
                        && self.peek2().is_some_and(|d| d.is_ascii_digit() || d == '.')) =>
                {
                    let n = self.number();
                    self.emit(Tok::Number(n), line);
                }
                c if is_alnum(c) => {
                    let word = self.word();
                    let tok = match word.as_str() {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        "if" => Tok::Keyword(Keyword::If),
                        "else" => Tok::Keyword(Keyword::Else),
                        "end" => Tok::Keyword(Keyword::End),
                        "range" => Tok::Keyword(Keyword::Range),
                        "with" => Tok::Keyword(Keyword::With),
                        "define" => Tok::Keyword(Keyword::Define),
                        "template" => Tok::Keyword(Keyword::Template),
                        "block" => Tok::Keyword(Keyword::Block),
                        "break" => Tok::Keyword(Keyword::Break),
                        "continue" => Tok::Keyword(Keyword::Continue),
                        _ => Tok::Ident(word),
                    };
                    self.emit(tok, line);
                    // An identifier directly followed by a field (`len.X`) is a chain Go
                    // rejects; the parser reports it.
                }
                other => {
                    return Err(self.err(format!("unexpected {other:?} in action")));
                }
            }
        }
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_alnum) {
            self.bump();
        }
        self.src[start..self.pos].to_owned()
    }

    fn number(&mut self) -> String {
        let start = self.pos;
        if matches!(self.peek(), Some('+' | '-')) {
            self.bump();
        }
        let mut prev = ' ';
        while let Some(c) = self.peek() {
            let sign_after_exp = (c == '+' || c == '-') && matches!(prev, 'e' | 'E' | 'p' | 'P');
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || sign_after_exp {
                // Hex literals contain 'e' as a digit; a sign after it would start an
                // expression Go does not allow here anyway.
                prev = c;
                self.bump();
            } else {
                break;
            }
        }
        self.src[start..self.pos].to_owned()
    }

    fn escape(&mut self, quote: char) -> Result<char, TemplateError> {
        let Some(c) = self.bump() else {
            return Err(self.err("unterminated quoted string"));
        };
        let hex = |lexer: &mut Self, n: usize| -> Result<char, TemplateError> {
            let mut v: u32 = 0;
            for _ in 0..n {
                let d = lexer
                    .bump()
                    .and_then(|d| d.to_digit(16))
                    .ok_or_else(|| lexer.err("invalid escape in quoted string"))?;
                v = v * 16 + d;
            }
            char::from_u32(v).ok_or_else(|| lexer.err("invalid unicode escape"))
        };
        Ok(match c {
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            '\\' => '\\',
            'x' => hex(self, 2)?,
            'u' => hex(self, 4)?,
            'U' => hex(self, 8)?,
            '0'..='7' => {
                let mut v = c.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    let d = self
                        .bump()
                        .and_then(|d| d.to_digit(8))
                        .ok_or_else(|| self.err("invalid octal escape"))?;
                    v = v * 8 + d;
                }
                char::from_u32(v).ok_or_else(|| self.err("invalid octal escape"))?
            }
            c if c == quote => c,
            other => return Err(self.err(format!("unknown escape sequence \\{other}"))),
        })
    }

    fn quoted(&mut self) -> Result<String, TemplateError> {
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                None | Some('\n') => return Err(self.err("unterminated quoted string")),
                Some('"') => return Ok(s),
                Some('\\') => s.push(self.escape('"')?),
                Some(c) => s.push(c),
            }
        }
    }

    fn char_constant(&mut self) -> Result<char, TemplateError> {
        self.bump();
        let c = match self.bump() {
            None | Some('\n' | '\'') => return Err(self.err("malformed character constant")),
            Some('\\') => self.escape('\'')?,
            Some(c) => c,
        };
        if self.bump() != Some('\'') {
            return Err(self.err("malformed character constant"));
        }
        Ok(c)
    }
}
