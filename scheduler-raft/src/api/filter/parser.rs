//! The parser: a recursive descent directly over the expression's
//! characters, so that every error can name the column where it was found.
//!
//! ```text
//! expression := or
//! or         := and ("or" and)*
//! and        := not ("and" not)*
//! not        := "not" not | primary
//! primary    := "(" or ")" | match
//! match      := selector ("==" | "!=") value
//!             | selector ["not"] ("contains" | "matches") value
//!             | selector "is" ["not"] "empty"
//!             | value ["not"] "in" selector
//! selector   := name ("." (name | string) | "[" (string | digits) "]")*
//! value      := string | bare word
//! ```

use regex::Regex;

use super::{Expression, FilterError, Literal, Match, Selector, Test};

/// Deepest nesting of parentheses and `not`s accepted. Parsing and
/// evaluation recurse once per level, and a request must not be able to
/// overflow the server's stack.
const MAX_NESTING: usize = 64;

/// Words with a meaning in the grammar. They cannot be a selector's first
/// field nor a bare value; quoting them makes them a value.
const RESERVED_WORDS: [&str; 7] = ["and", "or", "not", "in", "contains", "matches", "is"];

/// The hint given when `in` is written after a selector.
const IN_ORDER: &str = "`in` takes the value first, as in `\"value\" in Selector`; \
                        after a selector, use `contains`";

/// What `describe_next` says at the end of the input.
const END: &str = "the end of the expression";

pub(super) fn parse(expression: &str) -> Result<Expression, FilterError> {
    let mut parser = Parser {
        chars: expression.chars().collect(),
        position: 0,
        nesting: 0,
    };
    parser.skip_whitespace();
    if parser.at_end() {
        return Err(parser.error_at(0, "empty expression"));
    }
    let parsed = parser.parse_or()?;
    parser.skip_whitespace();
    if !parser.at_end() {
        return Err(parser.unexpected(&format!("`and`, `or` or {END}")));
    }
    Ok(parsed)
}

struct Parser {
    chars: Vec<char>,
    /// Index in `chars` of the next character to read.
    position: usize,
    /// How many parentheses and `not`s enclose the current position.
    nesting: usize,
}

impl Parser {
    fn parse_or(&mut self) -> Result<Expression, FilterError> {
        let first = self.parse_and()?;
        if !self.eat_keyword("or") {
            return Ok(first);
        }
        let mut alternatives = vec![first, self.parse_and()?];
        while self.eat_keyword("or") {
            alternatives.push(self.parse_and()?);
        }
        Ok(Expression::Any(alternatives))
    }

    fn parse_and(&mut self) -> Result<Expression, FilterError> {
        let first = self.parse_not()?;
        if !self.eat_keyword("and") {
            return Ok(first);
        }
        let mut conditions = vec![first, self.parse_not()?];
        while self.eat_keyword("and") {
            conditions.push(self.parse_not()?);
        }
        Ok(Expression::All(conditions))
    }

    fn parse_not(&mut self) -> Result<Expression, FilterError> {
        self.skip_whitespace();
        let start = self.position;
        if !self.eat_keyword("not") {
            return self.parse_primary();
        }
        self.enter(start)?;
        let operand = self.parse_not()?;
        self.nesting -= 1;
        Ok(Expression::Not(Box::new(operand)))
    }

    fn parse_primary(&mut self) -> Result<Expression, FilterError> {
        self.skip_whitespace();
        if self.peek() != Some('(') {
            return self.parse_match();
        }
        let open = self.position;
        self.enter(open)?;
        self.position += 1;
        let inner = self.parse_or()?;
        self.skip_whitespace();
        if self.peek() != Some(')') {
            let expected = format!("`and`, `or` or `)` closing the `(` at column {}", open + 1);
            return Err(self.unexpected(&expected));
        }
        self.position += 1;
        self.nesting -= 1;
        Ok(inner)
    }

    fn parse_match(&mut self) -> Result<Expression, FilterError> {
        self.skip_whitespace();
        match self.peek() {
            Some('"' | '`') => {
                let value = self.parse_string()?;
                self.parse_membership(value)
            }
            Some(first) if is_bare_value_char(first) => {
                // A bare word is a value only when `in` or `not in` follows;
                // otherwise it starts a selector.
                if self.membership_follows(self.bare_value_end()) {
                    let value = self.parse_bare_value()?;
                    self.parse_membership(value)
                } else {
                    let selector = self.parse_selector()?;
                    self.parse_test(selector)
                }
            }
            _ => Err(self.unexpected("a selector or a value")),
        }
    }

    /// The rest of `value in Selector` or `value not in Selector`.
    fn parse_membership(&mut self, value: String) -> Result<Expression, FilterError> {
        let negated = if self.eat_keyword("in") {
            false
        } else if self.eat_not_then("in") {
            true
        } else {
            return Err(self.unexpected("`in` or `not in` after a value"));
        };
        self.skip_whitespace();
        if matches!(self.peek(), Some('"' | '`')) {
            // Most likely `Selector in "value"`, the wrong way round.
            return Err(self.unexpected(&format!("a selector after `in` ({IN_ORDER})")));
        }
        let selector = self.parse_selector()?;
        Ok(Expression::Match(Match {
            selector,
            test: Test::Contains(Literal { text: value }),
            negated,
        }))
    }

    /// The operator and value that follow a selector.
    fn parse_test(&mut self, selector: Selector) -> Result<Expression, FilterError> {
        self.skip_whitespace();
        let operator_start = self.position;
        let (test, negated) = if self.eat_symbol("==") {
            (Test::Equal(self.parse_literal()?), false)
        } else if self.eat_symbol("!=") {
            (Test::Equal(self.parse_literal()?), true)
        } else if self.eat_keyword("contains") {
            (Test::Contains(self.parse_literal()?), false)
        } else if self.eat_keyword("matches") {
            (self.parse_regex()?, false)
        } else if self.eat_keyword("is") {
            let negated = self.eat_keyword("not");
            if !self.eat_keyword("empty") {
                let after = if negated { "`is not`" } else { "`is`" };
                return Err(self.unexpected(&format!("`empty` after {after}")));
            }
            (Test::IsEmpty, negated)
        } else if self.eat_keyword("not") {
            if self.eat_keyword("contains") {
                (Test::Contains(self.parse_literal()?), true)
            } else if self.eat_keyword("matches") {
                (self.parse_regex()?, true)
            } else {
                return Err(self.unexpected("`contains` or `matches` after `not`"));
            }
        } else if self.at_keyword(operator_start, "in") {
            return Err(self.error_at(operator_start, IN_ORDER));
        } else {
            return Err(self.unexpected(
                "an operator (==, !=, contains, not contains, matches, not matches, \
                 is empty, is not empty)",
            ));
        };
        Ok(Expression::Match(Match {
            selector,
            test,
            negated,
        }))
    }

    fn parse_regex(&mut self) -> Result<Test, FilterError> {
        self.skip_whitespace();
        let start = self.position;
        let pattern = self.parse_value()?;
        match Regex::new(&pattern) {
            Ok(regex) => Ok(Test::Matches(regex)),
            Err(error) => Err(self.error_at(
                start,
                format!(
                    "invalid regular expression: {}",
                    describe_regex_error(&error)
                ),
            )),
        }
    }

    fn parse_selector(&mut self) -> Result<Selector, FilterError> {
        self.skip_whitespace();
        let start = self.position;
        if !self
            .peek()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        {
            return Err(self.unexpected("a selector"));
        }
        let first = self.scan_while(is_field_char);
        if RESERVED_WORDS.contains(&first.as_str()) {
            let message = format!("expected a selector, found the keyword `{first}`");
            return Err(self.error_at(start, message));
        }
        let mut fields = vec![first];
        loop {
            match self.peek() {
                Some('.') => {
                    self.position += 1;
                    match self.peek() {
                        Some('"' | '`') => fields.push(self.parse_string()?),
                        Some(c) if is_field_char(c) => fields.push(self.scan_while(is_field_char)),
                        _ => return Err(self.unexpected("a field name after `.`")),
                    }
                }
                Some('[') => {
                    let open = self.position;
                    self.position += 1;
                    self.skip_whitespace();
                    let key = match self.peek() {
                        Some('"' | '`') => self.parse_string()?,
                        Some(c) if c.is_ascii_digit() => self.scan_while(|c| c.is_ascii_digit()),
                        _ => return Err(self.unexpected("a quoted key or an index inside `[ ]`")),
                    };
                    self.skip_whitespace();
                    if self.peek() != Some(']') {
                        let expected = format!("`]` closing the `[` at column {}", open + 1);
                        return Err(self.unexpected(&expected));
                    }
                    self.position += 1;
                    fields.push(key);
                }
                _ => return Ok(Selector { fields }),
            }
        }
    }

    fn parse_literal(&mut self) -> Result<Literal, FilterError> {
        self.parse_value().map(|text| Literal { text })
    }

    fn parse_value(&mut self) -> Result<String, FilterError> {
        self.skip_whitespace();
        match self.peek() {
            Some('"' | '`') => self.parse_string(),
            Some(c) if is_bare_value_char(c) => self.parse_bare_value(),
            _ => Err(self.unexpected("a value")),
        }
    }

    fn parse_bare_value(&mut self) -> Result<String, FilterError> {
        let start = self.position;
        let word = self.scan_while(is_bare_value_char);
        if RESERVED_WORDS.contains(&word.as_str()) {
            let message = format!(
                "expected a value, found the keyword `{word}` (quote it to use it as a value)"
            );
            return Err(self.error_at(start, message));
        }
        Ok(word)
    }

    /// A string literal: backquoted and raw, or double-quoted with Go's
    /// escapes (go-bexpr unquotes with Go's `strconv.Unquote`).
    fn parse_string(&mut self) -> Result<String, FilterError> {
        let open = self.position;
        let Some(quote) = self.peek() else {
            return Err(self.unexpected("a string"));
        };
        self.position += 1;
        let mut text = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error_at(open, "unterminated string literal"));
            };
            self.position += 1;
            if c == quote {
                return Ok(text);
            }
            if c == '\\' && quote == '"' {
                text.push(self.parse_escape(open)?);
            } else {
                text.push(c);
            }
        }
    }

    /// The character an escape sequence stands for; the backslash has just
    /// been read.
    fn parse_escape(&mut self, open: usize) -> Result<char, FilterError> {
        let backslash = self.position - 1;
        let Some(kind) = self.peek() else {
            return Err(self.error_at(open, "unterminated string literal"));
        };
        self.position += 1;
        let simple = match kind {
            '"' => Some('"'),
            '\\' => Some('\\'),
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            _ => None,
        };
        if let Some(escaped) = simple {
            return Ok(escaped);
        }
        // Go's `\x` and octal escapes give bytes; only ASCII ones are
        // characters on their own, so larger ones are refused.
        let (code, ascii_only) = match kind {
            'x' => (self.scan_digits(2, 16), true),
            'u' => (self.scan_digits(4, 16), false),
            'U' => (self.scan_digits(8, 16), false),
            '0'..='7' => {
                let first = kind.to_digit(8).unwrap_or(0);
                (self.scan_digits(2, 8).map(|rest| first * 64 + rest), true)
            }
            _ => {
                let message = format!("unknown escape sequence `\\{kind}`");
                return Err(self.error_at(backslash, message));
            }
        };
        let Some(code) = code else {
            let message = format!("escape sequence `\\{kind}` is missing digits");
            return Err(self.error_at(backslash, message));
        };
        match char::from_u32(code) {
            Some(escaped) if !ascii_only || escaped.is_ascii() => Ok(escaped),
            _ => {
                let message = format!("escape sequence `\\{kind}` does not stand for a character");
                Err(self.error_at(backslash, message))
            }
        }
    }

    /// Reads exactly `count` digits of `radix`, or none at all.
    fn scan_digits(&mut self, count: usize, radix: u32) -> Option<u32> {
        let digits = self.chars.get(self.position..self.position + count)?;
        let mut code: u32 = 0;
        for digit in digits {
            code = code * radix + digit.to_digit(radix)?;
        }
        self.position += count;
        Some(code)
    }

    fn scan_while(&mut self, accept: impl Fn(char) -> bool) -> String {
        let start = self.position;
        while self.peek().is_some_and(&accept) {
            self.position += 1;
        }
        self.chars[start..self.position].iter().collect()
    }

    /// Where the bare word starting at the current position ends.
    fn bare_value_end(&self) -> usize {
        let rest = self.chars.get(self.position..).unwrap_or_default();
        self.position + rest.iter().take_while(|c| is_bare_value_char(**c)).count()
    }

    /// Whether `in` or `not in` comes next after `index`.
    fn membership_follows(&self, index: usize) -> bool {
        let next = self.skip_whitespace_from(index);
        if self.at_keyword(next, "in") {
            return true;
        }
        self.at_keyword(next, "not") && self.at_keyword(self.skip_whitespace_from(next + 3), "in")
    }

    /// Consumes `not` followed by `keyword`, or nothing.
    fn eat_not_then(&mut self, keyword: &str) -> bool {
        let not = self.skip_whitespace_from(self.position);
        if !self.at_keyword(not, "not") {
            return false;
        }
        let after = self.skip_whitespace_from(not + 3);
        if !self.at_keyword(after, keyword) {
            return false;
        }
        self.position = after + keyword.chars().count();
        true
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        self.skip_whitespace();
        if !self.at_keyword(self.position, keyword) {
            return false;
        }
        self.position += keyword.chars().count();
        true
    }

    fn eat_symbol(&mut self, symbol: &str) -> bool {
        let length = symbol.chars().count();
        let matched = self
            .chars
            .get(self.position..self.position + length)
            .is_some_and(|found| found.iter().copied().eq(symbol.chars()));
        if matched {
            self.position += length;
        }
        matched
    }

    /// Whether the whole word at `index` is `keyword`, so that `notes` is
    /// not read as `not`.
    fn at_keyword(&self, index: usize, keyword: &str) -> bool {
        self.word_at(index).iter().copied().eq(keyword.chars())
    }

    /// The run of letters, digits and `_` at `index`.
    fn word_at(&self, index: usize) -> &[char] {
        let rest = self.chars.get(index..).unwrap_or_default();
        let length = rest
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .count();
        &rest[..length]
    }

    fn enter(&mut self, index: usize) -> Result<(), FilterError> {
        if self.nesting >= MAX_NESTING {
            let message =
                format!("expression nests deeper than {MAX_NESTING} parentheses or `not`s");
            return Err(self.error_at(index, message));
        }
        self.nesting += 1;
        Ok(())
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    fn at_end(&self) -> bool {
        self.position >= self.chars.len()
    }

    fn skip_whitespace(&mut self) {
        self.position = self.skip_whitespace_from(self.position);
    }

    fn skip_whitespace_from(&self, mut index: usize) -> usize {
        while self.chars.get(index).is_some_and(|c| is_whitespace(*c)) {
            index += 1;
        }
        index
    }

    fn error_at(&self, index: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            column: index + 1,
            message: message.into(),
        }
    }

    /// An error at the current position: `expected ..., found ...`.
    fn unexpected(&self, expected: &str) -> FilterError {
        let message = format!("expected {expected}, found {}", self.describe_next());
        self.error_at(self.position, message)
    }

    fn describe_next(&self) -> String {
        let word = self.word_at(self.position);
        match self.peek() {
            None => END.to_owned(),
            Some(_) if !word.is_empty() => format!("`{}`", word.iter().collect::<String>()),
            Some('"' | '`') => "a string".to_owned(),
            Some(other) if other.is_control() => format!("{other:?}"),
            Some(other) => format!("`{other}`"),
        }
    }
}

/// go-bexpr's whitespace: space, tab and line breaks.
fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Characters of an unquoted field name.
fn is_field_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/')
}

/// Characters of a bare value: words, numbers (`-1.5`), and the
/// punctuation of IDs and addresses (`10.0.0.1:4646`).
fn is_bare_value_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':')
}

/// The regex crate's parse errors span several lines, drawing the pattern;
/// an HTTP error wants the one line that says what is wrong.
fn describe_regex_error(error: &regex::Error) -> String {
    let text = error.to_string();
    let last_line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty());
    let summary = last_line.unwrap_or(text.as_str());
    summary
        .strip_prefix("error: ")
        .unwrap_or(summary)
        .to_owned()
}
