package dev.conv4j.examples;

import java.util.List;

/**
 * The Adam optimizer (Kingma and Ba, 2015) with PyTorch's defaults: each value moves against a
 * running mean of its gradient, scaled down by the running root mean square of the gradient.
 */
public final class Adam implements Optimizer {
    private final List<Parameter> params;
    private final float beta1, beta2, eps;
    private float lr;
    private final float[][] m, v;
    private int step;

    /** Adam with betas (0.9, 0.999) and epsilon 1e-8. */
    public Adam(List<Parameter> params, float lr) {
        this(params, lr, 0.9f, 0.999f, 1e-8f);
    }

    /** Adam with explicit decay rates of the running averages and the epsilon added to their root. */
    public Adam(List<Parameter> params, float lr, float beta1, float beta2, float eps) {
        this.params = List.copyOf(params);
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        m = new float[this.params.size()][];
        v = new float[this.params.size()][];
        for (int i = 0; i < m.length; i++) {
            m[i] = new float[this.params.get(i).size()];
            v[i] = new float[this.params.get(i).size()];
        }
    }

    @Override
    public float learningRate() {
        return lr;
    }

    @Override
    public void learningRate(float lr) {
        this.lr = lr;
    }

    @Override
    public void step() {
        step++;
        // the bias corrections undo the pull of the zero-initialized averages towards zero
        float c1 = (float) (1 - Math.pow(beta1, step)), c2 = (float) (1 - Math.pow(beta2, step));
        float stepSize = lr / c1;
        float rootC2 = (float) Math.sqrt(c2);
        for (int p = 0; p < m.length; p++) {
            float[] value = params.get(p).value, grad = params.get(p).grad, mp = m[p], vp = v[p];
            for (int i = 0; i < value.length; i++) {
                float g = grad[i];
                mp[i] = beta1 * mp[i] + (1 - beta1) * g;
                vp[i] = beta2 * vp[i] + (1 - beta2) * g * g;
                value[i] -= stepSize * mp[i] / ((float) Math.sqrt(vp[i]) / rootC2 + eps);
            }
        }
    }
}
