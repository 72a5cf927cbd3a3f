// The instance sizes ClientResources(instance=...) accepts: what each one gives a build or a deployment.
// Sizes are fixed here so that a definition means the same on every cluster; the README lists them.

export interface InstanceSize {
  cpus: number;
  memory: string;
  gpu?: { type: GpuType; amount: number };
}

export const GPU_TYPES = ['NVIDIA_K80', 'NVIDIA_T4', 'NVIDIA_V100', 'NVIDIA_A10G', 'NVIDIA_L4', 'NVIDIA_A100', 'NVIDIA_H100'] as const;
export type GpuType = (typeof GPU_TYPES)[number];

export const INSTANCE_SIZES: Record<string, InstanceSize> = {
  tiny: { cpus: 0.5, memory: '1Gi' },
  small: { cpus: 1, memory: '2Gi' },
  medium: { cpus: 2, memory: '8Gi' },
  large: { cpus: 4, memory: '16Gi' },
  xlarge: { cpus: 8, memory: '32Gi' },
  '2xlarge': { cpus: 16, memory: '64Gi' },
  '4xlarge': { cpus: 32, memory: '128Gi' },
  'gpu.k80.xl': { cpus: 4, memory: '61Gi', gpu: { type: 'NVIDIA_K80', amount: 1 } },
  'gpu.t4.xl': { cpus: 4, memory: '16Gi', gpu: { type: 'NVIDIA_T4', amount: 1 } },
  'gpu.t4.4xl': { cpus: 48, memory: '192Gi', gpu: { type: 'NVIDIA_T4', amount: 4 } },
  'gpu.v100.xl': { cpus: 8, memory: '61Gi', gpu: { type: 'NVIDIA_V100', amount: 1 } },
  'gpu.a10.xl': { cpus: 4, memory: '16Gi', gpu: { type: 'NVIDIA_A10G', amount: 1 } },
  'gpu.a10.2xl': { cpus: 8, memory: '32Gi', gpu: { type: 'NVIDIA_A10G', amount: 1 } },
  'gpu.a10.4xl': { cpus: 16, memory: '64Gi', gpu: { type: 'NVIDIA_A10G', amount: 1 } },
  'gpu.a10.8xl': { cpus: 32, memory: '128Gi', gpu: { type: 'NVIDIA_A10G', amount: 1 } },
  'gpu.a10.12xl': { cpus: 48, memory: '192Gi', gpu: { type: 'NVIDIA_A10G', amount: 4 } },
  'gpu.l4.xl': { cpus: 4, memory: '16Gi', gpu: { type: 'NVIDIA_L4', amount: 1 } },
  'gpu.a100.xl': { cpus: 12, memory: '85Gi', gpu: { type: 'NVIDIA_A100', amount: 1 } },
  'gpu.a100.8xl': { cpus: 96, memory: '1152Gi', gpu: { type: 'NVIDIA_A100', amount: 8 } },
  'gpu.h100.8xl': { cpus: 192, memory: '2048Gi', gpu: { type: 'NVIDIA_H100', amount: 8 } },
};
