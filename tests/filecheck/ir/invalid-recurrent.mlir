// RUN: opt-tool --split-input-file --verify-diagnostics %s | filecheck %s
// Verifier errors of the recurrent ops name the op and the operand that is wrong.

func.func @forward(%x: tensor<7x2x8xf32>, %h: tensor<2x16xf32>, %wi: tensor<64x8xf32>, %wh: tensor<64x16xf32>) {
  %0 = hy.lstm %x : tensor<7x2x8xf32>, %h : tensor<2x16xf32> weights %wi : tensor<64x8xf32>, %wh : tensor<64x16xf32> -> tensor<7x2x32xf32>
  func.return
}
// CHECK: invalid-recurrent.mlir:5:3: hy.lstm: an LSTM needs an initial cell state c0

// -----

func.func @forward(%x: tensor<7x2x8xf32>, %h: tensor<3x16xf32>, %wi: tensor<48x8xf32>, %wh: tensor<48x16xf32>) {
  %0 = hy.gru %x : tensor<7x2x8xf32>, %h : tensor<3x16xf32> weights %wi : tensor<48x8xf32>, %wh : tensor<48x16xf32> -> tensor<7x2x16xf32>
  func.return
}
// CHECK: hy.gru: h0 must be 2x16, got 3x16

// -----

func.func @forward(%x: tensor<7x2x8xf32>, %h: tensor<2x16xf32>, %wi: tensor<50x8xf32>, %wh: tensor<50x16xf32>) {
  %0 = hy.gru %x : tensor<7x2x8xf32>, %h : tensor<2x16xf32> weights %wi : tensor<50x8xf32>, %wh : tensor<50x16xf32> -> tensor<7x2x16xf32>
  func.return
}
// CHECK: hy.gru: w_ih must be [3*H, I] with H > 0, got 50x8

// -----

func.func @forward(%x: tensor<7x2x4xf32>, %h: tensor<2x16xf32>, %wi: tensor<16x8xf32>, %wh: tensor<16x16xf32>) {
  %0 = hy.rnn_tanh %x : tensor<7x2x4xf32>, %h : tensor<2x16xf32> weights %wi : tensor<16x8xf32>, %wh : tensor<16x16xf32> -> tensor<7x2x16xf32>
  func.return
}
// CHECK: hy.rnn_tanh: w_ih 16x8 must be [16, 4] for an input 7x2x4

// -----

func.func @forward(%x: tensor<7x2x8xf32>, %h: tensor<2x16xf32>, %wi: tensor<16x8xf32>, %wh: tensor<16x16xf32>) {
  %0 = hy.rnn_relu %x : tensor<7x2x8xf32>, %h : tensor<2x16xf32> cell %h : tensor<2x16xf32> weights %wi : tensor<16x8xf32>, %wh : tensor<16x16xf32> -> tensor<7x2x16xf32>
  func.return
}
// CHECK: hy.rnn_relu: only hy.lstm takes a cell state and a projection

// -----

func.func @forward(%x: tensor<7x2x8xf32>, %h: tensor<2x16xf32>, %wi: tensor<16x8xf32>, %wh: tensor<16x16xf32>) {
  %0 = hy.rnn_tanh %x : tensor<7x2x8xf32>, %h : tensor<2x16xf32> weights %wi : tensor<16x8xf32>, %wh : tensor<16x16xf32> -> tensor<7x2x8xf32>
  func.return
}
// CHECK: hy.rnn_tanh: result shape 7x2x8 does not match the expected 7x2x16
