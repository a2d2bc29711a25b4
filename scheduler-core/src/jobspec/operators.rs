//! The operators of HCL expressions on evaluated values: attribute and
//! index access, arithmetic, comparison and logic, with HCL's automatic
//! string-to-number and string-to-bool conversions.

use super::value::Value;
use hcl::Number;
use hcl::edit::expr::{BinaryOperator, UnaryOperator};

pub(crate) fn get_attr(value: &Value, name: &str) -> Result<Value, String> {
    match value {
        Value::Object(map) => map
            .get(name)
            .cloned()
            .ok_or_else(|| format!("object has no attribute \"{name}\"")),
        Value::Null => Err(format!("cannot read attribute \"{name}\" of a null value")),
        other => Err(format!(
            "cannot read attribute \"{name}\" of a {} value",
            other.type_name()
        )),
    }
}

pub(crate) fn get_index(value: &Value, index: &Value) -> Result<Value, String> {
    match value {
        Value::List(items) => {
            let i = index.as_i64().ok_or_else(|| {
                format!(
                    "list index must be a whole number, got {}",
                    index.type_name()
                )
            })?;
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "index {i} is out of range for a list of {} elements",
                        items.len()
                    )
                })
        }
        Value::Object(map) => {
            let key = index
                .to_hcl_string()
                .ok_or_else(|| format!("object key must be a string, got {}", index.type_name()))?;
            map.get(&key)
                .cloned()
                .ok_or_else(|| format!("object has no key {key:?}"))
        }
        Value::Null => Err("cannot index a null value".to_owned()),
        other => Err(format!("cannot index a {} value", other.type_name())),
    }
}

fn number_of(value: &Value) -> Result<Number, String> {
    match value {
        Value::Number(n) => Ok(*n),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Number::from)
            .ok()
            .or_else(|| s.trim().parse::<f64>().ok().and_then(Number::from_f64))
            .ok_or_else(|| format!("a number is required, got the string {s:?}")),
        other => Err(format!("a number is required, got {}", other.type_name())),
    }
}

fn bool_of(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("a bool is required, got {}", value.type_name()))
}

pub(crate) fn unary(operator: UnaryOperator, value: &Value) -> Result<Value, String> {
    match operator {
        UnaryOperator::Not => Ok(Value::Bool(!bool_of(value)?)),
        UnaryOperator::Neg => {
            let n = number_of(value)?;
            Ok(match n.as_i64() {
                Some(i) => i
                    .checked_neg()
                    .map_or_else(|| Value::float(-(i as f64)), Value::int),
                None => Value::float(-n.as_f64().unwrap_or(0.0)),
            })
        }
    }
}

/// Structural equality where numbers compare by value (1 == 1.0).
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && values_equal(va, vb))
        }
        _ => a == b,
    }
}

pub(crate) fn binary(operator: BinaryOperator, lhs: &Value, rhs: &Value) -> Result<Value, String> {
    use BinaryOperator as Op;
    match operator {
        Op::Eq => Ok(Value::Bool(values_equal(lhs, rhs))),
        Op::NotEq => Ok(Value::Bool(!values_equal(lhs, rhs))),
        Op::And => Ok(Value::Bool(bool_of(lhs)? && bool_of(rhs)?)),
        Op::Or => Ok(Value::Bool(bool_of(lhs)? || bool_of(rhs)?)),
        Op::Less | Op::LessEq | Op::Greater | Op::GreaterEq => {
            let a = number_of(lhs)?.as_f64().unwrap_or(f64::NAN);
            let b = number_of(rhs)?.as_f64().unwrap_or(f64::NAN);
            Ok(Value::Bool(match operator {
                Op::Less => a < b,
                Op::LessEq => a <= b,
                Op::Greater => a > b,
                _ => a >= b,
            }))
        }
        Op::Plus | Op::Minus | Op::Mul | Op::Div | Op::Mod => {
            let a = number_of(lhs)?;
            let b = number_of(rhs)?;
            arithmetic(operator, a, b)
        }
    }
}

fn arithmetic(operator: BinaryOperator, a: Number, b: Number) -> Result<Value, String> {
    use BinaryOperator as Op;
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        let exact = match operator {
            Op::Plus => x.checked_add(y),
            Op::Minus => x.checked_sub(y),
            Op::Mul => x.checked_mul(y),
            Op::Div if y == 0 => return Err("division by zero".to_owned()),
            Op::Div => (x.checked_rem(y) == Some(0))
                .then(|| x.checked_div(y))
                .flatten(),
            Op::Mod if y == 0 => return Err("modulo by zero".to_owned()),
            Op::Mod => x.checked_rem(y),
            _ => None,
        };
        if let Some(n) = exact {
            return Ok(Value::int(n));
        }
    }
    let x = a.as_f64().unwrap_or(f64::NAN);
    let y = b.as_f64().unwrap_or(f64::NAN);
    let result = match operator {
        Op::Plus => x + y,
        Op::Minus => x - y,
        Op::Mul => x * y,
        Op::Div if y == 0.0 => return Err("division by zero".to_owned()),
        Op::Div => x / y,
        Op::Mod if y == 0.0 => return Err("modulo by zero".to_owned()),
        _ => x % y,
    };
    if result.is_finite() {
        Ok(Value::float(result))
    } else {
        Err("arithmetic result is out of range".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BinaryOperator as Op;

    #[test]
    fn arithmetic_stays_exact_for_integers_and_falls_back_to_floats() {
        assert_eq!(
            binary(Op::Plus, &Value::int(2), &Value::string("3")),
            Ok(Value::int(5))
        );
        assert_eq!(
            binary(Op::Div, &Value::int(7), &Value::int(2)),
            Ok(Value::float(3.5))
        );
        assert_eq!(
            binary(Op::Div, &Value::int(8), &Value::int(2)),
            Ok(Value::int(4))
        );
        assert_eq!(
            binary(Op::Plus, &Value::int(i64::MAX), &Value::int(1)),
            Ok(Value::float(i64::MAX as f64 + 1.0))
        );
        assert!(binary(Op::Div, &Value::int(1), &Value::int(0)).is_err());
        assert!(binary(Op::Mod, &Value::int(1), &Value::int(0)).is_err());
        assert_eq!(
            unary(UnaryOperator::Neg, &Value::int(i64::MIN)),
            Ok(Value::float(9.223372036854776e18))
        );
    }

    #[test]
    fn comparison_and_logic_follow_hcl() {
        assert_eq!(
            binary(Op::Eq, &Value::int(1), &Value::float(1.0)),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            binary(Op::Less, &Value::string("10"), &Value::int(9)),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            binary(Op::And, &Value::string("true"), &Value::Bool(true)),
            Ok(Value::Bool(true))
        );
        assert!(binary(Op::Less, &Value::string("x"), &Value::int(1)).is_err());
        assert!(get_index(&Value::List(vec![Value::int(1)]), &Value::int(5)).is_err());
        assert!(get_attr(&Value::Null, "x").is_err());
    }
}
