// RUN: opt-tool %s | opt-tool | filecheck %s
// Recurrent ops: printing, parsing and printing again gives the same text.

func.func @forward(%x: tensor<7x2x8xf32>, %h: tensor<2x16xf32>, %p: tensor<2x6xf32>, %wi4: tensor<64x8xf32>, %wh4: tensor<64x16xf32>, %wp4: tensor<64x6xf32>, %b4: tensor<64xf32>, %wr: tensor<6x16xf32>, %wi3: tensor<48x8xf32>, %wh3: tensor<48x16xf32>, %b3: tensor<48xf32>, %wi1: tensor<16x8xf32>, %wh1: tensor<16x16xf32>, %xd: tensor<?x2x8xf32>) -> tensor<7x2x32xf32> {
  %0 = hy.lstm %x : tensor<7x2x8xf32>, %h : tensor<2x16xf32> cell %h : tensor<2x16xf32> weights %wi4 : tensor<64x8xf32>, %wh4 : tensor<64x16xf32> bias %b4 : tensor<64xf32>, %b4 : tensor<64xf32> -> tensor<7x2x32xf32>
  %1 = hy.lstm %x : tensor<7x2x8xf32>, %p : tensor<2x6xf32> cell %h : tensor<2x16xf32> weights %wi4 : tensor<64x8xf32>, %wp4 : tensor<64x6xf32> proj %wr : tensor<6x16xf32> reverse -> tensor<7x2x22xf32>
  %2 = hy.gru %x : tensor<7x2x8xf32>, %h : tensor<2x16xf32> weights %wi3 : tensor<48x8xf32>, %wh3 : tensor<48x16xf32> bias %b3 : tensor<48xf32>, %b3 : tensor<48xf32> reverse -> tensor<7x2x16xf32>
  %3 = hy.rnn_tanh %x : tensor<7x2x8xf32>, %h : tensor<2x16xf32> weights %wi1 : tensor<16x8xf32>, %wh1 : tensor<16x16xf32> -> tensor<7x2x16xf32>
  %4 = hy.rnn_relu %xd : tensor<?x2x8xf32>, %h : tensor<2x16xf32> weights %wi1 : tensor<16x8xf32>, %wh1 : tensor<16x16xf32> -> tensor<?x2x16xf32>
  func.return %0 : tensor<7x2x32xf32>
}

// CHECK-LABEL: func.func @forward
// CHECK-NEXT:    %0 = hy.lstm %x : tensor<7x2x8xf32>, %h : tensor<2x16xf32> cell %h : tensor<2x16xf32> weights %wi4 : tensor<64x8xf32>, %wh4 : tensor<64x16xf32> bias %b4 : tensor<64xf32>, %b4 : tensor<64xf32> -> tensor<7x2x32xf32>
// CHECK-NEXT:    %1 = hy.lstm %x : tensor<7x2x8xf32>, %p : tensor<2x6xf32> cell %h : tensor<2x16xf32> weights %wi4 : tensor<64x8xf32>, %wp4 : tensor<64x6xf32> proj %wr : tensor<6x16xf32> reverse -> tensor<7x2x22xf32>
// CHECK-NEXT:    %2 = hy.gru {{.*}} bias %b3 : tensor<48xf32>, %b3 : tensor<48xf32> reverse -> tensor<7x2x16xf32>
// CHECK-NEXT:    %3 = hy.rnn_tanh {{.*}} weights %wi1 : tensor<16x8xf32>, %wh1 : tensor<16x16xf32> -> tensor<7x2x16xf32>
// CHECK-NEXT:    %4 = hy.rnn_relu %xd : tensor<?x2x8xf32>, {{.*}} -> tensor<?x2x16xf32>
