package dev.conv4j.examples;

import java.util.List;

/**
 * Stochastic gradient descent with Nesterov momentum and L2 weight decay, step for step as
 * PyTorch's {@code torch.optim.SGD(momentum=m, nesterov=True, weight_decay=wd)} computes it:
 * {@code g = grad + wd·p; v = m·v + g} (v = g on the first step){@code ; p -= lr·(g + m·v)}.
 */
public final class Sgd implements Optimizer {
    private final List<Parameter> params;
    private final float momentum, weightDecay;
    private final float[][] velocity;
    private float lr;
    private boolean started;

    public Sgd(List<Parameter> params, float lr, float momentum, float weightDecay) {
        if (!(lr > 0) || !(momentum >= 0 && momentum < 1) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException("SGD needs lr > 0, 0 <= momentum < 1 and weight decay >= 0, got lr "
                    + lr + ", momentum " + momentum + ", weight decay " + weightDecay);
        }
        this.params = List.copyOf(params);
        this.lr = lr;
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        velocity = new float[this.params.size()][];
        for (int i = 0; i < velocity.length; i++) {
            velocity[i] = new float[this.params.get(i).size()];
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
        // on the first step the velocity is the gradient itself, not a tenth of it
        float keep = started ? momentum : 0f;
        started = true;
        for (int p = 0; p < velocity.length; p++) {
            float[] value = params.get(p).value, grad = params.get(p).grad, v = velocity[p];
            for (int i = 0; i < value.length; i++) {
                float g = grad[i] + weightDecay * value[i];
                v[i] = keep * v[i] + g;
                value[i] -= lr * (g + momentum * v[i]);
            }
        }
    }
}
