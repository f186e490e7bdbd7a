//! Segments that include themselves: a reference from the segment being
//! saved that leads back to it through saved dynamic definitions, or a loop
//! already among the saved definitions (which could never be evaluated).

use std::collections::BTreeSet;

use crate::ast::Condition;
use crate::schema::Schema;

/// The chain of names that closes a loop when the segment `saving` (if it
/// has a name) refers to `start`, such as `["A", "B", "A"]`; `None` when
/// following `start`'s definitions never comes back around.
pub fn find_cycle(schema: &Schema, saving: Option<&str>, start: &str) -> Option<Vec<String>> {
    if saving == Some(start) {
        return Some(vec![start.to_string(), start.to_string()]);
    }
    let mut chain: Vec<String> = saving.map(str::to_string).into_iter().collect();
    let mut finished = BTreeSet::new();
    // Each frame: a segment on the chain and the references still to follow.
    let mut frames: Vec<Vec<String>> = Vec::new();
    chain.push(start.to_string());
    frames.push(references(schema, start));
    while let Some(pending) = frames.last_mut() {
        let Some(next) = pending.pop() else {
            frames.pop();
            if let Some(done) = chain.pop() {
                finished.insert(done);
            }
            continue;
        };
        if let Some(at) = chain.iter().position(|n| *n == next) {
            // Back at the segment being saved (always first on the chain),
            // or around a loop among the saved definitions.
            let mut cycle = chain[at..].to_vec();
            cycle.push(next);
            return Some(cycle);
        }
        if finished.contains(&next) {
            continue;
        }
        frames.push(references(schema, &next));
        chain.push(next);
    }
    None
}

/// The segments a saved dynamic segment's definition refers to, in the
/// order they appear.
fn references(schema: &Schema, name: &str) -> Vec<String> {
    let Some(definition) = schema.segment(name).and_then(|s| s.definition.as_ref()) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut stack = vec![&definition.condition];
    while let Some(node) = stack.pop() {
        match node {
            Condition::InSegment { segment, .. } => found.push(segment.clone()),
            Condition::All { of, .. } | Condition::Any { of, .. } | Condition::None { of, .. } => {
                stack.extend(of.iter().rev());
            }
            Condition::Not { condition, .. }
            | Condition::Account { condition, .. }
            | Condition::Members { condition, .. } => stack.push(condition),
            _ => {}
        }
    }
    // Followed by popping from the end, so reversed to follow in order.
    found.reverse();
    found
}
