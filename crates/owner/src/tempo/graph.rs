//! The network as Tempo's trusted process runs it: a graph whose linear algebra (every linear
//! layer, and every convolution as a product over im2col rows) is offloaded, and whose other
//! steps (im2col, reshapes, ReLU, pooling, BatchNorm, residual sums) stay trusted.
//!
//! Built from a [`ModelSpec`] for the MLP, LeNet, ResNet and VGG; the graph computes what
//! `amalgam_core`'s networks compute, with the same weight names, so the trained layers go back
//! into an ordinary model.

use amalgam_core::model::{Architecture, ModelSpec};
use amalgam_core::{Error, Result};
use burn::nn::BatchNorm;
use burn::nn::pool::MaxPool2dConfig;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::ops::PadMode;

/// A value flowing through the graph.
#[derive(Clone, Debug)]
pub enum Value {
    /// A feature map `[B, C, H, W]`.
    Map(Tensor<4>),
    /// A matrix `[rows, cols]`: a product's input or output, or the logits.
    Matrix(Tensor<2>),
}

impl Value {
    /// The matrix, for nodes whose shape the graph guarantees.
    pub fn matrix(self) -> Tensor<2> {
        match self {
            Value::Matrix(m) => m,
            Value::Map(_) => unreachable!("the graph gives this node a matrix"),
        }
    }

    fn map(self) -> Tensor<4> {
        match self {
            Value::Map(m) => m,
            Value::Matrix(_) => unreachable!("the graph gives this node a feature map"),
        }
    }

    /// The same value as an autodiff leaf whose gradient is kept.
    pub fn leaf(&self) -> Value {
        match self {
            Value::Map(t) => Value::Map(t.clone().detach().require_grad()),
            Value::Matrix(t) => Value::Matrix(t.clone().detach().require_grad()),
        }
    }

    /// The value cut from its autodiff graph.
    pub fn detached(&self) -> Value {
        match self {
            Value::Map(t) => Value::Map(t.clone().detach()),
            Value::Matrix(t) => Value::Matrix(t.clone().detach()),
        }
    }

    /// `Σ self ⊙ weight`: backpropagating it gives the vector-Jacobian product for `weight`.
    pub fn dot(&self, weight: &Value) -> Tensor<1> {
        match (self, weight) {
            (Value::Map(a), Value::Map(b)) => (a.clone() * b.clone()).sum(),
            (Value::Matrix(a), Value::Matrix(b)) => (a.clone() * b.clone()).sum(),
            _ => unreachable!("a value and its gradient have the same kind"),
        }
    }

    /// The sum of two values of the same shape.
    pub fn add(self, other: Value) -> Value {
        match (self, other) {
            (Value::Map(a), Value::Map(b)) => Value::Map(a + b),
            (Value::Matrix(a), Value::Matrix(b)) => Value::Matrix(a + b),
            _ => unreachable!("a value and its gradient have the same kind"),
        }
    }

    /// This leaf's gradient in `grads` (zero if it did not reach the leaf), as a constant.
    pub fn grad(&self, grads: &burn::tensor::Gradients) -> Value {
        match self {
            Value::Map(t) => Value::Map(
                t.grad(grads)
                    .map(Tensor::from_inner)
                    .unwrap_or_else(|| t.zeros_like().detach()),
            ),
            Value::Matrix(t) => Value::Matrix(
                t.grad(grads)
                    .map(Tensor::from_inner)
                    .unwrap_or_else(|| t.zeros_like().detach()),
            ),
        }
    }
}

/// A step of the graph.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// The normalised input images.
    Input,
    /// Offloaded layer `layer`: `[n, k]` → `[n, m]`.
    Product {
        /// Index into [`Graph::layers`].
        layer: usize,
    },
    /// im2col: `[B, C, H, W]` → `[B·oh·ow, C·kernel²]`, columns in PyTorch's weight order.
    Unfold {
        /// Square kernel side.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Zero padding on every side.
        padding: usize,
    },
    /// `[B·h·w, C]` → `[B, C, h, w]`.
    Fold {
        /// Output height.
        height: usize,
        /// Output width.
        width: usize,
    },
    /// ReLU.
    Relu,
    /// 2×2 max pooling, stride 2; `ceil`: a last, partial window where a side is odd (VGG's
    /// `ceil_mode`).
    MaxPool {
        /// Ceil mode.
        ceil: bool,
    },
    /// BatchNorm number `norm` (an index into [`Graph::norms`]).
    Norm(usize),
    /// Sum of two inputs.
    Add,
    /// `[B, C, H, W]` → `[B, C·H·W]`.
    Flatten,
    /// Global average pooling `[B, C, H, W]` → `[B, C]`.
    AveragePool,
}

/// A node: an operation and the nodes it reads.
#[derive(Clone, Debug)]
pub struct Node {
    /// What it computes.
    pub op: Op,
    /// Its inputs, earlier nodes.
    pub inputs: Vec<usize>,
}

/// An offloaded layer: the model's weight tensor it stands for.
#[derive(Clone, Debug, PartialEq)]
pub struct OffloadedLayer {
    /// Name prefix of the weights (`{name}.weight`, `{name}.bias`).
    pub name: String,
    /// PyTorch weight shape: `[out, in]` or `[out, in, kh, kw]`.
    pub weight_shape: Vec<usize>,
    /// Whether it has a bias.
    pub bias: bool,
}

impl OffloadedLayer {
    /// `[k, m]` of the product: inputs by outputs.
    pub fn product_shape(&self) -> [usize; 2] {
        let m = self.weight_shape[0];
        [self.weight_shape[1..].iter().product(), m]
    }
}

/// The trusted process's view of the network.
#[derive(Clone, Debug)]
pub struct Graph {
    /// Nodes in execution order; node 0 is [`Op::Input`], the last gives the logits.
    pub nodes: Vec<Node>,
    /// The offloaded layers, in offload order.
    pub layers: Vec<OffloadedLayer>,
    /// Name prefixes of the BatchNorm layers the trusted process keeps.
    pub norms: Vec<String>,
}

/// What a node holds, for building.
#[derive(Clone, Copy)]
enum Shape {
    Map([usize; 3]),
    Matrix(usize),
}

struct Builder {
    graph: Graph,
    shapes: Vec<Shape>,
}

impl Builder {
    fn push(&mut self, op: Op, inputs: Vec<usize>, shape: Shape) -> usize {
        self.graph.nodes.push(Node { op, inputs });
        self.shapes.push(shape);
        self.graph.nodes.len() - 1
    }

    fn map(&self, node: usize) -> [usize; 3] {
        match self.shapes[node] {
            Shape::Map(s) => s,
            Shape::Matrix(_) => unreachable!("built on a feature map"),
        }
    }

    fn width(&self, node: usize) -> usize {
        match self.shapes[node] {
            Shape::Matrix(w) => w,
            Shape::Map([c, h, w]) => c * h * w,
        }
    }

    fn unary(&mut self, op: Op, x: usize) -> usize {
        let shape = match (&op, self.shapes[x]) {
            (Op::MaxPool { ceil: false }, Shape::Map([c, h, w])) => Shape::Map([c, h / 2, w / 2]),
            (Op::MaxPool { ceil: true }, Shape::Map([c, h, w])) => {
                Shape::Map([c, h.div_ceil(2), w.div_ceil(2)])
            }
            (Op::Flatten, _) => Shape::Matrix(self.width(x)),
            (Op::AveragePool, Shape::Map([c, _, _])) => Shape::Matrix(c),
            (_, s) => s,
        };
        self.push(op, vec![x], shape)
    }

    fn product(&mut self, x: usize, name: String, weight_shape: Vec<usize>, bias: bool) -> usize {
        let out = weight_shape[0];
        self.graph.layers.push(OffloadedLayer {
            name,
            weight_shape,
            bias,
        });
        let layer = self.graph.layers.len() - 1;
        self.push(Op::Product { layer }, vec![x], Shape::Matrix(out))
    }

    fn linear(&mut self, x: usize, name: &str, out: usize) -> usize {
        let input = self.width(x);
        self.product(x, name.into(), vec![out, input], true)
    }

    fn conv(
        &mut self,
        x: usize,
        name: String,
        out: usize,
        k: usize,
        stride: usize,
        bias: bool,
    ) -> usize {
        let [c, h, w] = self.map(x);
        let padding = usize::from(k == 3);
        let side = |s: usize| (s + 2 * padding - k) / stride + 1;
        let (oh, ow) = (side(h), side(w));
        let cols = self.push(
            Op::Unfold {
                kernel: k,
                stride,
                padding,
            },
            vec![x],
            Shape::Matrix(c * k * k),
        );
        let y = self.product(cols, name, vec![out, c, k, k], bias);
        self.push(
            Op::Fold {
                height: oh,
                width: ow,
            },
            vec![y],
            Shape::Map([out, oh, ow]),
        )
    }

    fn norm(&mut self, x: usize, name: String) -> usize {
        self.graph.norms.push(name);
        let index = self.graph.norms.len() - 1;
        self.unary(Op::Norm(index), x)
    }
}

impl Graph {
    /// The graph of `spec`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an architecture Tempo does not offload (the MLP, LeNet, ResNet
    /// and VGG are supported), token inputs, or a split network.
    pub fn new(spec: &ModelSpec) -> Result<Self> {
        let image = spec
            .input
            .image()
            .ok_or_else(|| Error::invalid("Tempo trains image models only"))?;
        if spec.split.is_some() {
            return Err(Error::invalid(
                "Tempo trains whole networks, not split ones",
            ));
        }
        let mut b = Builder {
            graph: Graph {
                nodes: Vec::new(),
                layers: Vec::new(),
                norms: Vec::new(),
            },
            shapes: Vec::new(),
        };
        let input = b.push(
            Op::Input,
            Vec::new(),
            Shape::Map([image.channels, image.height, image.width]),
        );
        match &spec.architecture {
            Architecture::Mlp { hidden } => {
                let mut x = b.unary(Op::Flatten, input);
                for (i, &h) in hidden.iter().enumerate() {
                    x = b.linear(x, &format!("layers.{i}"), h);
                    x = b.unary(Op::Relu, x);
                }
                b.linear(x, &format!("layers.{}", hidden.len()), spec.classes);
            }
            Architecture::Lenet {
                channels: [c1, c2],
                hidden: [f1, f2],
            } => {
                let mut x = input;
                for (name, c) in [("conv1", *c1), ("conv2", *c2)] {
                    x = b.conv(x, name.into(), c, 5, 1, true);
                    x = b.unary(Op::Relu, x);
                    x = b.unary(Op::MaxPool { ceil: false }, x);
                }
                x = b.unary(Op::Flatten, x);
                x = b.linear(x, "fc1", *f1);
                x = b.unary(Op::Relu, x);
                x = b.linear(x, "fc2", *f2);
                x = b.unary(Op::Relu, x);
                b.linear(x, "fc3", spec.classes);
            }
            Architecture::Resnet { blocks, widths } => {
                let x = b.conv(input, "conv1".into(), widths[0], 3, 1, false);
                let x = b.norm(x, "bn1".into());
                let mut x = b.unary(Op::Relu, x);
                for (stage, (&n, &width)) in blocks.iter().zip(widths).enumerate() {
                    for block in 0..n {
                        let stride = if stage > 0 && block == 0 { 2 } else { 1 };
                        x = residual_block(
                            &mut b,
                            x,
                            format!("layer{}.{block}", stage + 1),
                            width,
                            stride,
                        );
                    }
                }
                let x = b.unary(Op::AveragePool, x);
                b.linear(x, "linear", spec.classes);
            }
            Architecture::Vgg { stages } => {
                // PyTorch's `features` Sequential: conv, norm, ReLU per conv, a pool per stage.
                let (mut x, mut index) = (input, 0);
                for stage in stages {
                    for &width in stage {
                        x = b.conv(x, format!("features.{index}"), width, 3, 1, true);
                        x = b.norm(x, format!("features.{}", index + 1));
                        x = b.unary(Op::Relu, x);
                        index += 3;
                    }
                    x = b.unary(Op::MaxPool { ceil: true }, x);
                    index += 1;
                }
                let x = b.unary(Op::AveragePool, x);
                b.linear(x, "classifier", spec.classes);
            }
            other => {
                return Err(Error::invalid(format!(
                    "Tempo offloads the MLP, LeNet, ResNet and VGG, not {}",
                    other.name()
                )));
            }
        }
        Ok(b.graph)
    }

    /// `[k, m]` of every offloaded layer.
    pub fn product_shapes(&self) -> Vec<[usize; 2]> {
        self.layers
            .iter()
            .map(OffloadedLayer::product_shape)
            .collect()
    }
}

/// A ResNet BasicBlock: `relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut x)`.
fn residual_block(b: &mut Builder, x: usize, name: String, width: usize, stride: usize) -> usize {
    let [c, _, _] = b.map(x);
    let y = b.conv(x, format!("{name}.conv1"), width, 3, stride, false);
    let y = b.norm(y, format!("{name}.bn1"));
    let y = b.unary(Op::Relu, y);
    let y = b.conv(y, format!("{name}.conv2"), width, 3, 1, false);
    let y = b.norm(y, format!("{name}.bn2"));
    let shortcut = if stride != 1 || c != width {
        let s = b.conv(x, format!("{name}.shortcut.0"), width, 1, stride, false);
        b.norm(s, format!("{name}.shortcut.1"))
    } else {
        x
    };
    let shape = Shape::Map(b.map(y));
    let sum = b.push(Op::Add, vec![y, shortcut], shape);
    b.unary(Op::Relu, sum)
}

/// im2col of `x` `[B, C, H, W]`: `[B·oh·ow, C·k²]`, rows sample-major then row-major
/// positions, columns `c·k² + i·k + j` (PyTorch's flattened weight order).
pub fn unfold(x: Tensor<4>, kernel: usize, stride: usize, padding: usize) -> Tensor<2> {
    let [b, c, h, w] = x.dims();
    let side = |s: usize| (s + 2 * padding - kernel) / stride + 1;
    let (oh, ow) = (side(h), side(w));
    let extra = stride - 1;
    let x = if padding + extra > 0 {
        x.pad(
            [(padding, padding + extra), (padding, padding + extra)],
            PadMode::Constant(0.0),
        )
    } else {
        x
    };
    let mut patches = Vec::with_capacity(kernel * kernel);
    for i in 0..kernel {
        for j in 0..kernel {
            let patch = x
                .clone()
                .slice([0..b, 0..c, i..i + stride * oh, j..j + stride * ow]);
            patches.push(if stride > 1 {
                patch
                    .reshape([b, c, oh, stride, ow, stride])
                    .slice([0..b, 0..c, 0..oh, 0..1, 0..ow, 0..1])
                    .reshape([b, c, oh, ow])
            } else {
                patch
            });
        }
    }
    Tensor::stack::<5>(patches, 2)
        .reshape([b, c * kernel * kernel, oh * ow])
        .swap_dims(1, 2)
        .reshape([b * oh * ow, c * kernel * kernel])
}

/// `[B·h·w, C]` → `[B, C, h, w]` (the inverse layout of [`unfold`]'s rows).
pub fn fold(y: Tensor<2>, height: usize, width: usize) -> Tensor<4> {
    let [rows, c] = y.dims();
    let b = rows / (height * width);
    y.reshape([b, height * width, c])
        .swap_dims(1, 2)
        .reshape([b, c, height, width])
}

/// Runs the trusted (non-offloaded) operation `op` on `inputs`.
pub fn run_local(op: &Op, inputs: Vec<Value>, norms: &[BatchNorm]) -> Value {
    let mut inputs = inputs.into_iter();
    let mut next = || {
        inputs
            .next()
            .expect("the graph gives every node its inputs")
    };
    match op {
        Op::Unfold {
            kernel,
            stride,
            padding,
        } => Value::Matrix(unfold(next().map(), *kernel, *stride, *padding)),
        Op::Fold { height, width } => Value::Map(fold(next().matrix(), *height, *width)),
        Op::Relu => match next() {
            Value::Map(t) => Value::Map(relu(t)),
            Value::Matrix(t) => Value::Matrix(relu(t)),
        },
        Op::MaxPool { ceil } => Value::Map(
            MaxPool2dConfig::new([2, 2])
                .with_ceil_mode(*ceil)
                .init()
                .forward(next().map()),
        ),
        Op::Norm(i) => Value::Map(norms[*i].forward(next().map())),
        Op::Add => next().add(next()),
        Op::Flatten => Value::Matrix(next().map().flatten(1, 3)),
        Op::AveragePool => Value::Matrix(adaptive_avg_pool2d(next().map(), [1, 1]).flatten(1, 3)),
        Op::Input | Op::Product { .. } => unreachable!("not a trusted operation"),
    }
}
