func.func @forward(%x: tensor<2xf32>) {
  %0 = hy.relu %x : tensor<2xf32
}
