//! One rewrite of the ONNX graph before tract sees it.
//!
//! The int8 export stores each embedding table quantised and dequantises it in the graph:
//! `Gather(Mul(Cast(q), scale), ids)`. Run as written, every call dequantises the whole
//! 30,522 × 384 word-embedding table to look up a dozen rows. Rewritten as
//! `Mul(Cast(Gather(q, ids)), scale')` (with `scale' = Gather(scale, ids)` for a per-row scale),
//! only the looked-up rows are dequantised; the result is the same numbers.
use std::collections::{HashMap, HashSet};

use tract_onnx::pb::{AttributeProto, ModelProto, NodeProto, attribute_proto::AttributeType};

/// ONNX `TensorProto.DataType` FLOAT, for the `to` attribute of `Cast`.
const ONNX_FLOAT: i64 = 1;

/// A `Gather` fed by `Mul(Cast(q), scale)` where neither intermediate has another use.
struct Match {
    cast: usize,
    mul: usize,
    quantised: String,
    scale: String,
    per_row_scale: bool,
}

/// Rewrites every matching gather in place; returns how many were rewritten.
pub(crate) fn gather_before_dequantise(model: &mut ModelProto) -> usize {
    let Some(graph) = model.graph.as_mut() else {
        return 0;
    };
    let producer: HashMap<&str, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
        .collect();
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for node in &graph.node {
        for input in &node.input {
            *uses.entry(input.as_str()).or_default() += 1;
        }
    }
    let initializer_dims: HashMap<&str, &[i64]> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t.dims.as_slice()))
        .collect();
    let single_use = |name: &str| uses.get(name) == Some(&1);

    let mut matches: HashMap<usize, Match> = HashMap::new();
    for (gather, node) in graph.node.iter().enumerate() {
        let axis_zero = node.attribute.iter().all(|a| a.name != "axis" || a.i == 0);
        if node.op_type != "Gather" || !axis_zero || node.input.len() != 2 {
            continue;
        }
        let Some(&mul) = producer.get(node.input[0].as_str()) else {
            continue;
        };
        let mul_node = &graph.node[mul];
        if mul_node.op_type != "Mul" || mul_node.input.len() != 2 || !single_use(&node.input[0]) {
            continue;
        }
        let Some(&cast) = producer.get(mul_node.input[0].as_str()) else {
            continue;
        };
        let cast_node = &graph.node[cast];
        if cast_node.op_type != "Cast" || !single_use(&mul_node.input[0]) {
            continue;
        }
        let (quantised, scale) = (&cast_node.input[0], &mul_node.input[1]);
        let (Some(q_dims), Some(scale_dims)) = (
            initializer_dims.get(quantised.as_str()),
            initializer_dims.get(scale.as_str()),
        ) else {
            continue;
        };
        let per_row_scale =
            scale_dims.len() == 2 && scale_dims[1] == 1 && Some(&scale_dims[0]) == q_dims.first();
        let per_column_or_scalar = scale_dims.iter().product::<i64>() == 1
            || (scale_dims.len() == 2 && scale_dims[0] == 1);
        if per_row_scale || per_column_or_scalar {
            matches.insert(
                gather,
                Match {
                    cast,
                    mul,
                    quantised: quantised.clone(),
                    scale: scale.clone(),
                    per_row_scale,
                },
            );
        }
    }

    let replaced: HashSet<usize> = matches.values().flat_map(|m| [m.cast, m.mul]).collect();
    let node = |op: &str, name: String, input: Vec<String>, output: String| NodeProto {
        op_type: op.to_owned(),
        name,
        input,
        output: vec![output],
        ..NodeProto::default()
    };
    let mut rewritten = Vec::with_capacity(graph.node.len() + 2 * matches.len());
    for (index, original) in std::mem::take(&mut graph.node).into_iter().enumerate() {
        if replaced.contains(&index) {
            continue;
        }
        let Some(m) = matches.get(&index) else {
            rewritten.push(original);
            continue;
        };
        let ids = original.input[1].clone();
        let output = original.output[0].clone();
        let name = original.name.clone();
        let mut gather_q = node(
            "Gather",
            format!("{name}/gather_quantised"),
            vec![m.quantised.clone(), ids.clone()],
            format!("{output}/quantised_rows"),
        );
        gather_q.attribute = original.attribute.clone();
        rewritten.push(gather_q);
        let mut cast = node(
            "Cast",
            format!("{name}/cast"),
            vec![format!("{output}/quantised_rows")],
            format!("{output}/float_rows"),
        );
        cast.attribute = vec![AttributeProto {
            name: "to".to_owned(),
            r#type: AttributeType::Int as i32,
            i: ONNX_FLOAT,
            ..AttributeProto::default()
        }];
        rewritten.push(cast);
        let scale = if m.per_row_scale {
            let mut gather_scale = node(
                "Gather",
                format!("{name}/gather_scale"),
                vec![m.scale.clone(), ids],
                format!("{output}/row_scales"),
            );
            gather_scale.attribute = original.attribute.clone();
            rewritten.push(gather_scale);
            format!("{output}/row_scales")
        } else {
            m.scale.clone()
        };
        rewritten.push(node(
            "Mul",
            format!("{name}/dequantise"),
            vec![format!("{output}/float_rows"), scale],
            output,
        ));
    }
    graph.node = rewritten;
    matches.len()
}
