package dev.conv4j;

import dev.conv4j.internal.Backend;
import dev.conv4j.internal.DirectMemory;
import dev.conv4j.internal.Escapes;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A dense float32 tensor, held off-heap: in row-major (C) order, or for an activation in one of the
 * other {@linkplain Layout layouts}.
 *
 * <p>Activations are N×C×H×W, weights O×(C/groups)×KH×KW, biases O. A tensor either owns its
 * memory ({@link #of}, {@link #zeros}), released by {@link #close()}, or is a view: of another
 * tensor's memory ({@link #reshape}, {@link #view}), or of memory owned by someone else
 * ({@link #wrap(FloatBuffer, int...)}, {@link #wrap(FloatPointer, int...)}). Closing a view only
 * detaches it.
 *
 * <p><b>Layouts.</b> A rank-4 tensor has a {@link #layout()}: {@link Layout#NCHW} (row-major, the
 * default), {@link Layout#NHWC} or {@link Layout#NCHW16C}. Its {@link #shape()} is the logical
 * (N, C, H, W) in every layout and {@link #size()} counts logical elements; {@link #storageSize()}
 * counts the floats in memory, more than {@code size()} for NCHW16C when C is not a multiple of 16.
 * Everything that sees memory works in the layout's own order over {@code storageSize()} floats:
 * {@link #toArray()}, {@link #copyTo(float[])}, {@link #copyFrom(float[])}, {@link #buffer()},
 * {@link #pointer()}, {@link #overlaps}, {@code wrap}, and the engines' checks. {@link #toLayout},
 * {@link #copyTo(Tensor)} and {@link #reorder} move elements between layouts; {@link #reshape} and
 * {@link #view(long, int...)} refuse a tensor whose layout is not NCHW, and
 * {@link #view(long, Layout, int...)} views memory in a layout of your choice.
 *
 * <p><b>Memory.</b> Owned memory is allocated through JavaCPP (it counts in
 * {@link Pointer#totalBytes()} and obeys JavaCPP's {@code maxBytes}) and belongs to the tensor alone,
 * whatever JavaCPP {@code PointerScope} the allocating thread has open. {@code close()} releases it at
 * once. Owned memory that is never closed is released after the tensor, and every buffer and pointer
 * it handed out, became unreachable and were garbage collected: a safety net, not a substitute for
 * try-with-resources in a server. When JavaCPP's own native library cannot load (a platform the jars
 * do not cover), tensors fall back to direct buffers and then hold at most {@link #MAX_BUFFER_ELEMENTS}
 * elements; on Java 22 and later they are released the same two ways (foreign memory arenas), on Java 17
 * to 21 by the garbage collector alone, once neither the tensor nor a buffer of it is reachable.
 *
 * <p><b>Views.</b> A view of a tensor ({@link #reshape}, {@link #view}, or {@code wrap} of a buffer or
 * pointer that this class handed out) shares its memory and lives with it: once the tensor is closed,
 * using the view throws {@link IllegalStateException}. A view of memory conv4j does not own keeps that
 * memory reachable, and one of a JavaCPP allocation refuses to be used once that allocation was freed;
 * memory freed by other means (a raw {@code free}, another library's own release) cannot be detected.
 * On Java 22 and later, {@code Segments.wrap(MemorySegment, int...)} views a memory segment, and a
 * view of a segment or of a buffer of one refuses to be used once its arena was closed.
 *
 * <p><b>Sizes.</b> A tensor holds at most {@link Integer#MAX_VALUE} elements, so every element index
 * fits the {@code int} arguments of BLAS. Every dimension must be at least 1; rank 0 (a scalar) is allowed.
 *
 * <p><b>Threads and lifetime.</b> Reading a tensor from several threads at once is safe; writing it
 * while another thread reads or writes it is a data race, as for an array. Every engine call and every
 * copy method {@linkplain #acquire() acquires} the tensors it touches for its duration (a view
 * acquires the tensor it views too), and {@code close()} on a tensor that is acquired throws
 * {@link IllegalStateException} instead of freeing memory that another thread is reading: closing
 * never invalidates a running call. Using a closed tensor throws {@link IllegalStateException}.
 */
public final class Tensor implements AutoCloseable {
    /** The most elements a Java direct buffer can address (its capacity in bytes is an {@code int}). */
    public static final int MAX_BUFFER_ELEMENTS = Integer.MAX_VALUE / Float.BYTES;

    /** {@link #users} value of a closed tensor; any other value counts the current users. */
    private static final int CLOSED = -1;
    private static final VarHandle USERS;

    static {
        try {
            USERS = MethodHandles.lookup().findVarHandle(Tensor.class, "users", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
        Backend.installTensorMemory(t -> t.engineView, Tensor::engineBuffer, Tensor::address);
    }

    private final int[] shape;
    /** The logical element count, the product of the shape. */
    private final int size;
    private final Layout layout;
    /** The floats the tensor occupies in memory: {@link #size} but for NCHW16C's padding channels. */
    private final int storage;
    /**
     * The address of element 0; without JavaCPP on Java 17 to 21, a stand-in that identifies the memory
     * (see DirectMemory; nothing dereferences it there). 0 only where not even that is known.
     */
    private final long address;
    /** The owning tensor whose memory this one views, or null (this tensor owns its memory, or wraps foreign memory). */
    private final Tensor base;
    /** Owned memory: a JavaCPP allocation, or, without JavaCPP, a direct-buffer block. Null for views. */
    private final FloatPointer owned;
    private final DirectMemory.Block block;
    /** Foreign memory: what keeps it reachable (a buffer or a pointer; held, never read), or null. */
    private final Object keepAlive;
    /** Foreign memory from a JavaCPP allocation: the pointer that owns it, null once it is freed. */
    private final Pointer foreignRoot;
    /** Foreign direct-buffer memory on Java 22 and later: its lifetime (an arena's, see DirectMemory), else null. */
    private final Object foreignLifetime;
    /**
     * A Java buffer over exactly these elements where one exists: the block of an owned tensor without
     * JavaCPP, a wrapped buffer, or a slice of either for a view. Null otherwise.
     */
    private final FloatBuffer direct;
    /** The engines' own pointer, never handed out, so nobody can move its position or limit (null without JavaCPP). */
    private final TensorPointer engineView;
    /** The engines' own buffer, created on first use, likewise never handed out. */
    private volatile FloatBuffer engineBuffer;
    /** This owned tensor's memory as registered when a buffer or pointer of it was handed out. */
    private Escapes.Entry escape;
    @SuppressWarnings("unused") // accessed through USERS
    private volatile int users;

    private Tensor(int[] shape, int size, Layout layout, int storage, long address, Tensor base, FloatPointer owned,
                   DirectMemory.Block block, Object keepAlive, Pointer foreignRoot, FloatBuffer direct) {
        this.shape = shape;
        this.size = size;
        this.layout = layout;
        this.storage = storage;
        this.address = address;
        this.base = base;
        this.owned = owned;
        this.block = block;
        this.keepAlive = keepAlive;
        this.foreignRoot = foreignRoot;
        this.direct = direct;
        this.foreignLifetime = base == null && owned == null && block == null && direct != null
                ? DirectMemory.lifetime(direct) : null;
        this.engineView = javacpp() ? new TensorPointer(null, address, storage, null) : null;
        this.engineBuffer = direct;
    }

    /** A new NCHW tensor holding a copy of {@code data}, whose length must equal the product of {@code shape}. */
    public static Tensor of(float[] data, int... shape) {
        return of(Layout.NCHW, data, shape);
    }

    /**
     * A new tensor of the logical {@code shape} in {@code layout}, holding a copy of {@code data} in
     * that layout's memory order: {@code data.length} must equal {@link Layout#storageSize
     * layout.storageSize(shape)} (for NHWC, pixels with their channels side by side, as image decoders
     * give them). The padding channels of NCHW16C are set to zero whatever {@code data} holds there.
     */
    public static Tensor of(Layout layout, float[] data, int... shape) {
        if (data == null) {
            throw new IllegalArgumentException("data must not be null");
        }
        checkLayout(layout);
        int[] s = checkShape(shape);
        int n = elementCount(s);
        int stored = storageCount(layout, s);
        if (data.length != stored) {
            throw new IllegalArgumentException("data has " + data.length + " elements but shape "
                    + Arrays.toString(s) + (layout == Layout.NCHW ? "" : " in " + layout) + " needs " + stored);
        }
        Tensor t = allocate(s, n, layout, stored);
        if (t.owned != null) {
            t.owned.put(data, 0, stored);
        } else {
            t.direct.put(0, data, 0, stored);
        }
        if (t.padded()) {
            Backend.zeroPadding(t);
        }
        return t;
    }

    /** A new NCHW tensor of the given shape filled with zeros. */
    public static Tensor zeros(int... shape) {
        return zeros(Layout.NCHW, shape);
    }

    /**
     * A new tensor of the logical {@code shape} (N, C, H, W for a layout other than NCHW) in
     * {@code layout}, filled with zeros.
     */
    public static Tensor zeros(Layout layout, int... shape) {
        checkLayout(layout);
        int[] s = checkShape(shape);
        Tensor t = allocate(s, elementCount(s), layout, storageCount(layout, s));
        if (t.owned != null) {
            t.owned.zero();
        } // a new direct block is already zeroed
        return t;
    }

    /**
     * A zero-copy view of a direct buffer: elements {@code [position, position + size)} of
     * {@code direct}. The buffer must be in native byte order. Writes through either are seen by the
     * other. The view keeps the buffer reachable; {@code close()} does not free it. A buffer of a
     * tensor's memory ({@link #buffer()}, or a slice or duplicate of one) gives a view of that tensor,
     * unusable once the tensor is closed; wrapping one after the tensor was closed is refused. On Java
     * 22 and later, a buffer of a memory segment ({@code segment.asByteBuffer()}) gives a view that
     * refuses to be used once the segment's arena was closed, and one of a confined arena is refused
     * (the engines read tensors on their helper threads).
     *
     * <p>Without JavaCPP's native library on Java 17 to 21, conv4j cannot learn where a buffer's memory
     * lies: views of one buffer object, and of conv4j's own memory and the buffers it hands out, are
     * compared exactly, but a duplicate or slice you made of a buffer counts as memory of its own.
     *
     * @throws IllegalArgumentException if the buffer is not direct, not in native byte order, read-only,
     *                                  too small for the shape, or memory of a confined arena
     * @throws IllegalStateException    if the buffer is memory of a tensor that has been closed, or of an
     *                                  arena that has been closed
     */
    public static Tensor wrap(FloatBuffer direct, int... shape) {
        return wrap(Layout.NCHW, direct, shape);
    }

    /**
     * As {@link #wrap(FloatBuffer, int...)}, for memory holding a tensor of the logical {@code shape} in
     * {@code layout}: the buffer must have {@link Layout#storageSize layout.storageSize(shape)} elements
     * from its position. The padding channels of NCHW16C may hold anything: conv4j never reads them
     * into a result, and writes zeros there when the tensor is an output.
     */
    public static Tensor wrap(Layout layout, FloatBuffer direct, int... shape) {
        if (direct == null) {
            throw new IllegalArgumentException("direct buffer must not be null");
        }
        checkLayout(layout);
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("buffer must be direct (ByteBuffer.allocateDirect(...).asFloatBuffer()); use Tensor.of(float[], ...) to copy heap data");
        }
        if (direct.order() != ByteOrder.nativeOrder()) {
            throw new IllegalArgumentException("buffer byte order is " + direct.order()
                    + " but native code needs " + ByteOrder.nativeOrder() + " (call ByteBuffer.order(ByteOrder.nativeOrder()))");
        }
        if (direct.isReadOnly()) {
            throw new IllegalArgumentException("buffer is read-only; a tensor may be written (use Tensor.of(float[], ...) to copy it)");
        }
        int[] s = checkShape(shape);
        int n = elementCount(s);
        int stored = storageCount(layout, s);
        int pos = direct.position(), lim = direct.limit();
        if (lim - pos < stored) {
            throw new IllegalArgumentException("buffer has " + Math.max(0, lim - pos) + " remaining elements but shape "
                    + Arrays.toString(s) + (layout == Layout.NCHW ? "" : " in " + layout) + " needs " + stored);
        }
        FloatBuffer slice = direct.slice(pos, lim - pos).limit(stored);
        if (!DirectMemory.alive(DirectMemory.lifetime(slice))) {
            throw new IllegalStateException("the buffer's memory has been freed (for a memory segment's: its arena was closed)");
        }
        if (DirectMemory.confined(slice)) {
            throw new IllegalArgumentException("the buffer is memory of a confined arena (Arena.ofConfined()), which only its"
                    + " owner thread may use, but the engines read tensors on their helper threads: allocate it from"
                    + " Arena.ofShared(), Arena.ofAuto() or Arena.global()");
        }
        long addr = bufferAddress(direct, slice, pos);
        Tensor owner = ownerOf(addr, 4L * stored, "buffer");
        if (owner != null) {
            return owner.viewAt(addr, s, n, layout, stored);
        }
        return new Tensor(s, n, layout, stored, addr, null, null, null, slice, null, slice);
    }

    /**
     * A zero-copy view of native memory: elements {@code [position, position + size)} of {@code pointer}.
     * The memory must be one conv4j can bound: a JavaCPP allocation ({@code new FloatPointer(n)}, or a
     * direct buffer behind a pointer) or a copy, cast or offset of one ({@code new FloatPointer(p)},
     * {@code p.getPointer(i)}), or a tensor's own {@link #pointer()}. Its extent is measured in bytes
     * from the allocation, whatever element type the pointer's class, limit and capacity count; a
     * limit or capacity that is set must leave room for the shape too. The view keeps {@code pointer}
     * reachable (so JavaCPP cannot free the memory) and refuses to be used once the allocation has been
     * freed. A tensor's pointer gives a view of that tensor. {@code close()} does not free anything.
     * For memory conv4j cannot bound (an address from other native code, {@code Pointer.malloc}),
     * vouch for its size with a direct buffer over it and use {@link #wrap(FloatBuffer, int...)}.
     *
     * @throws IllegalArgumentException if the memory behind the pointer cannot be bounded, or is too
     *                                  small for the shape
     * @throws IllegalStateException    if it has been freed, or is memory of a tensor that has been closed
     */
    public static Tensor wrap(FloatPointer pointer, int... shape) {
        return wrap(Layout.NCHW, pointer, shape);
    }

    /**
     * As {@link #wrap(FloatPointer, int...)}, for memory holding a tensor of the logical {@code shape}
     * in {@code layout}: {@link Layout#storageSize layout.storageSize(shape)} floats from the pointer's
     * position. The padding channels of NCHW16C may hold anything (see {@link #wrap(Layout, FloatBuffer, int...)}).
     */
    public static Tensor wrap(Layout layout, FloatPointer pointer, int... shape) {
        if (pointer == null || pointer.isNull()) {
            throw new IllegalArgumentException("pointer must not be null");
        }
        checkLayout(layout);
        if (!javacpp()) {
            throw new IllegalArgumentException("JavaCPP's native library is unavailable ("
                    + Backend.describe(Backend.javacppFailure()) + "): tensors live in direct buffers; use wrap(FloatBuffer, ...)");
        }
        int[] s = checkShape(shape);
        int n = elementCount(s);
        int stored = storageCount(layout, s);
        String in = layout == Layout.NCHW ? "" : " in " + layout;
        long pos = pointer.position();
        if (pos < 0) {
            throw new IllegalArgumentException("pointer position is " + pos + ": the view would start before its memory");
        }
        long declared = pointer.limit() > 0 ? pointer.limit() : pointer.capacity();
        if (pointer.capacity() > 0) {
            declared = Math.min(declared, pointer.capacity());
        }
        if (declared > 0 && declared - pos < stored) {
            throw new IllegalArgumentException("pointer has " + Math.max(0, declared - pos)
                    + " elements between position and limit but shape " + Arrays.toString(s) + in + " needs " + stored);
        }
        long bytes = 4L * stored;
        long addr = pointer.address() + 4 * pos;
        PointerOrigin o = PointerOrigin.of(pointer);
        if (o == null) {
            String why = PointerOrigin.unavailable();
            throw new IllegalArgumentException("conv4j cannot tell what memory this pointer covers: no JavaCPP allocation is"
                    + " behind it (Pointer.malloc, an address from other native code, or memory already freed)"
                    + (why == null ? "" : "; " + why) + ". Wrap a direct buffer over memory you vouch for:"
                    + " Tensor.wrap(pointer.capacity(n).asBuffer(), ...)");
        }
        if (addr < o.start || addr + bytes > o.end) {
            throw new IllegalArgumentException("shape " + Arrays.toString(s) + in + " needs " + bytes + " bytes from the pointer's position,"
                    + " but its memory is " + (o.end - o.start) + " bytes and the view would start " + (addr - o.start)
                    + " bytes into it (limit and capacity count elements of the class the pointer was created as,"
                    + " e.g. bytes for a cast from BytePointer)");
        }
        if (o.tensor != null) {
            if (o.tensor.isClosed() || o.tensor.base != null && o.tensor.base.isClosed()) {
                throw new IllegalStateException("the pointer is memory of a tensor of shape " + Arrays.toString(o.tensor.shape)
                        + " that has been closed");
            }
            return o.tensor.viewAt(addr, s, n, layout, stored);
        }
        Tensor owner = ownerOf(addr, bytes, "pointer");
        if (owner != null) {
            return owner.viewAt(addr, s, n, layout, stored);
        }
        return new Tensor(s, n, layout, stored, addr, null, null, null, o.keep, o.root, null);
    }

    /**
     * The address of element {@code pos} of {@code direct}, which is element 0 of {@code slice}: the foreign
     * memory API's or JavaCPP's; else a stand-in (see DirectMemory), given to the buffer object the caller
     * holds, so that views of one buffer object compare exactly.
     */
    private static long bufferAddress(FloatBuffer direct, FloatBuffer slice, int pos) {
        if (DirectMemory.knowsAddresses()) {
            return DirectMemory.address(slice);
        }
        if (javacpp()) {
            return TensorPointer.bufferAddress(slice);
        }
        long a = DirectMemory.address(direct);
        return a == 0 ? 0 : a + 4L * pos;
    }

    /**
     * The tensor whose handed-out memory holds [addr, addr + bytes), or null for foreign memory;
     * throws for memory of a closed tensor and for a range that runs past a tensor's end.
     */
    private static Tensor ownerOf(long addr, long bytes, String what) {
        Tensor owner = Escapes.owner(addr, bytes);
        if (owner != null) {
            return owner;
        }
        if (Escapes.straddles(addr, bytes)) {
            throw new IllegalArgumentException("the " + what + " covers memory of a tensor and runs past its end");
        }
        if (Escapes.freed(addr, bytes)) {
            throw new IllegalStateException("the " + what + " is memory of a tensor that has been closed");
        }
        return null;
    }

    /**
     * A view of this NCHW tensor's elements with another shape of the same size, sharing its memory:
     * writes through either are seen by the other. The view is usable while this tensor (or, for a view,
     * the tensor it views) is open; closing it frees nothing.
     *
     * @throws IllegalArgumentException for a tensor in another layout, whose memory order is not that of
     *                                  its shape (reorder it with {@link #toLayout}, or view its memory
     *                                  with {@link #view(long, Layout, int...)})
     */
    public Tensor reshape(int... newShape) {
        checkOpen();
        if (layout != Layout.NCHW) {
            throw new IllegalArgumentException("cannot reshape a " + layout + " tensor " + Arrays.toString(shape)
                    + ": its memory is not in the order of its shape; reorder it with toLayout(Layout.NCHW) first, or view"
                    + " its memory with view(offset, layout, shape)");
        }
        int[] s = checkShape(newShape);
        int n = elementCount(s);
        if (n != size) {
            throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " (" + size + " elements) to "
                    + Arrays.toString(s) + " (" + n + " elements)");
        }
        return viewAt(address, s, n, Layout.NCHW, n, 0);
    }

    /**
     * A view of {@code product(shape)} consecutive elements of this NCHW tensor from element
     * {@code offset}, sharing its memory (for example one image of a batch: {@code x.view(i * c * h * w,
     * 1, c, h, w)}). Lives like {@link #reshape}.
     *
     * @throws IllegalArgumentException for a tensor in another layout (use {@link #view(long, Layout, int...)})
     */
    public Tensor view(long offset, int... shape) {
        checkOpen();
        if (layout != Layout.NCHW) {
            throw new IllegalArgumentException("view(offset, shape) of a " + layout + " tensor " + Arrays.toString(shape)
                    + " would read its memory as NCHW; say the view's layout: view(offset, Layout." + layout + ", shape)");
        }
        return view(offset, Layout.NCHW, shape);
    }

    /**
     * A view of this tensor's memory from float {@code offset} (counted in memory, from the first float
     * of the tensor, whatever its layout) as a tensor of the logical {@code shape} in {@code layout},
     * sharing its memory; it covers {@link Layout#storageSize layout.storageSize(shape)} floats. For
     * example image i of an NHWC batch: {@code x.view((long) i * h * w * c, Layout.NHWC, 1, c, h, w)}.
     * Lives like {@link #reshape}.
     *
     * @throws IllegalArgumentException if the view would reach past this tensor's memory
     */
    public Tensor view(long offset, Layout layout, int... shape) {
        checkOpen();
        checkLayout(layout);
        int[] s = checkShape(shape);
        int n = elementCount(s);
        int stored = storageCount(layout, s);
        if (offset < 0 || offset + stored > storage) {
            throw new IllegalArgumentException("elements [" + offset + ", " + (offset + stored) + ") of a view of shape "
                    + Arrays.toString(s) + (layout == Layout.NCHW ? "" : " in " + layout) + " lie outside the " + storage
                    + " elements of tensor " + describe());
        }
        return viewAt(address + 4 * offset, s, n, layout, stored, offset);
    }

    /** A view at an address inside this tensor's memory (from wrap). */
    private Tensor viewAt(long addr, int[] s, int n, Layout l, int stored) {
        checkOpen();
        long bytes = addr - address;
        if (direct != null && (address == 0 || bytes % 4 != 0)) {
            throw new IllegalArgumentException("a view of a tensor held in a Java buffer must start at one of its elements");
        }
        return viewAt(addr, s, n, l, stored, bytes / 4);
    }

    private Tensor viewAt(long addr, int[] s, int n, Layout l, int stored, long elementOffset) {
        Tensor root = root();
        FloatBuffer d = null;
        if (direct != null) {
            d = direct.duplicate().position((int) elementOffset).limit((int) elementOffset + stored).slice();
        }
        return new Tensor(s, n, l, stored, addr, root, null, null, root == null ? keepAlive : null, foreignRoot, d);
    }

    private static Tensor allocate(int[] shape, int n, Layout layout, int stored) {
        String in = layout == Layout.NCHW ? "" : " in " + layout;
        if (javacpp()) {
            FloatPointer p;
            try {
                p = Backend.allocate(stored);
            } catch (OutOfMemoryError e) {
                OutOfMemoryError o = new OutOfMemoryError("cannot allocate " + (4L * stored) + " bytes for a tensor of shape "
                        + Arrays.toString(shape) + in + ": " + e.getMessage());
                o.initCause(e);
                throw o;
            }
            return new Tensor(shape, n, layout, stored, p.address(), null, p, null, null, null, null);
        }
        if (stored > MAX_BUFFER_ELEMENTS) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + in + " has " + stored + " elements, more than the "
                    + MAX_BUFFER_ELEMENTS + " a Java direct buffer holds; tensors use direct buffers because JavaCPP's"
                    + " native library is unavailable (" + Backend.describe(Backend.javacppFailure()) + ")");
        }
        DirectMemory.Block b = DirectMemory.allocate(stored * Float.BYTES);
        Tensor t = new Tensor(shape, n, layout, stored, b.address, null, null, b, null, null, b.buffer.asFloatBuffer());
        b.freeWhenUnreachable(t);
        return t;
    }

    private static void checkLayout(Layout layout) {
        if (layout == null) {
            throw new IllegalArgumentException("layout must not be null (Layout.NCHW, NHWC or NCHW16C)");
        }
    }

    /** The floats a valid shape occupies in the layout; refuses a layout other than NCHW for rank != 4, and too many floats. */
    private static int storageCount(Layout layout, int[] shape) {
        long n = layout.storageSize(shape);
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " in " + layout + " occupies " + n
                    + " floats with its padding channels, more than the " + Integer.MAX_VALUE + " a tensor can hold");
        }
        return (int) n;
    }

    private static boolean javacpp() {
        return Backend.javacppFailure() == null;
    }

    private static int[] checkShape(int[] shape) {
        if (shape == null) {
            throw new IllegalArgumentException("shape must not be null");
        }
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 1) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + ": dimension " + i
                        + " is " + shape[i] + ", every dimension must be at least 1");
            }
        }
        return shape.clone();
    }

    private static int elementCount(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d; // cannot overflow: n <= Integer.MAX_VALUE before, d < 2^31
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape)
                        + " has more than " + Integer.MAX_VALUE + " elements, the most a tensor can hold"
                        + " (element indexes are 32-bit ints in BLAS and the native kernels)");
            }
        }
        return (int) n;
    }

    /** The shape (a copy). */
    public int[] shape() {
        checkOpen();
        return shape.clone();
    }

    /** The extent of dimension {@code axis}. */
    public int dim(int axis) {
        checkOpen();
        if (axis < 0 || axis >= shape.length) {
            throw new IllegalArgumentException("axis " + axis + " is outside [0, " + shape.length + ") for shape "
                    + Arrays.toString(shape));
        }
        return shape[axis];
    }

    /** The number of dimensions. */
    public int rank() {
        checkOpen();
        return shape.length;
    }

    /**
     * The number of logical elements, the product of the shape, whatever the layout (see
     * {@link #storageSize()} for the floats in memory).
     */
    public long size() {
        checkOpen();
        return size;
    }

    /** How the elements lie in memory: {@link Layout#NCHW} unless the tensor was made with another layout. */
    public Layout layout() {
        checkOpen();
        return layout;
    }

    /**
     * The floats this tensor occupies in memory: its {@linkplain #size() size}, but for {@link Layout#NCHW16C}
     * with C not a multiple of 16, whose padding channels take room too. Its {@link #pointer()} and
     * {@link #buffer()} cover that many, and so do the arrays of {@link #toArray()} and
     * {@link #copyFrom(float[])}.
     */
    public long storageSize() {
        checkOpen();
        return storage;
    }

    /**
     * A new array holding a copy of the tensor's memory: the elements in its layout's order
     * ({@link #storageSize()} of them; row-major for NCHW, with NCHW16C's padding channels, which are
     * zero). For the elements in logical (N, C, H, W) order whatever the layout, use
     * {@code toLayout(Layout.NCHW).toArray()}.
     */
    public float[] toArray() {
        float[] out = new float[storage];
        copyTo(out);
        return out;
    }

    /** Copies the tensor's memory into {@code dst} in its layout's order (see {@link #toArray()}); {@code dst.length} must be {@link #storageSize()}. */
    public void copyTo(float[] dst) {
        acquire();
        try {
            checkLength(dst, "dst");
            if (engineView != null) {
                engineView.get(dst, 0, storage);
            } else {
                direct.get(0, dst, 0, storage);
            }
        } finally {
            release();
        }
    }

    /**
     * Overwrites the tensor's memory from {@code src}, given in the layout's order (see
     * {@link #toArray()}); {@code src.length} must be {@link #storageSize()}. The padding channels of
     * NCHW16C stay zero whatever {@code src} holds there.
     */
    public void copyFrom(float[] src) {
        acquire();
        try {
            checkLength(src, "src");
            if (engineView != null) {
                engineView.put(src, 0, storage);
            } else {
                direct.put(0, src, 0, storage);
            }
            if (padded()) {
                Backend.zeroPadding(this);
            }
        } finally {
            release();
        }
    }

    /** Sets every element to {@code value}; the padding channels of NCHW16C stay zero. */
    public void fill(float value) {
        acquire();
        try {
            if (engineView != null && Float.floatToRawIntBits(value) == 0) {
                engineView.zero();
                return;
            }
            float[] chunk = new float[Math.min(storage, 1 << 16)];
            Arrays.fill(chunk, value);
            for (int off = 0; off < storage; off += chunk.length) {
                int len = Math.min(chunk.length, storage - off);
                if (engineView != null) {
                    new TensorPointer(null, address + (long) off * Float.BYTES, len, null).put(chunk, 0, len);
                } else {
                    direct.put(off, chunk, 0, len);
                }
            }
            if (padded()) {
                Backend.zeroPadding(this);
            }
        } finally {
            release();
        }
    }

    /**
     * A new tensor, owned by the caller, holding this tensor's elements in {@code layout} (a copy even
     * when the layout is this tensor's own).
     *
     * @throws IllegalArgumentException if {@code layout} is not NCHW and this tensor is not of rank 4
     */
    public Tensor toLayout(Layout layout) {
        acquire();
        try {
            checkLayout(layout);
            Tensor t = zeros(layout, shape);
            try {
                Backend.reorder(this, t);
                return t;
            } catch (RuntimeException | Error e) {
                t.close();
                throw e;
            }
        } finally {
            release();
        }
    }

    /**
     * Copies this tensor's elements into {@code dst}, which must have the same shape and may have any
     * layout: element (n, c, h, w) of this tensor becomes element (n, c, h, w) of {@code dst}.
     *
     * @throws IllegalArgumentException if the shapes differ or the two share memory
     * @see #reorder(Tensor, Tensor)
     */
    public void copyTo(Tensor dst) {
        reorder(this, dst);
    }

    /**
     * Copies {@code src}'s elements into {@code dst} (same shape, any two layouts: element (n, c, h, w)
     * of one becomes element (n, c, h, w) of the other) and returns {@code dst}. The copy runs over
     * contiguous runs of both layouts at once, in tiles that stay in cache; NCHW16C's padding channels
     * of {@code dst} come out zero.
     *
     * @throws IllegalArgumentException if either is null, the shapes differ or the two share memory
     * @throws IllegalStateException    if either is closed
     */
    public static Tensor reorder(Tensor src, Tensor dst) {
        if (src == null || dst == null) {
            throw new IllegalArgumentException((src == null ? "src" : "dst") + " must not be null");
        }
        src.acquire();
        try {
            dst.acquire();
            try {
                if (!Arrays.equals(src.shape, dst.shape)) {
                    throw new IllegalArgumentException("cannot reorder " + src.describe() + " into " + dst.describe()
                            + ": the shapes differ");
                }
                if (src.overlaps(dst)) {
                    throw new IllegalArgumentException("cannot reorder " + src.describe() + " into " + dst.describe()
                            + ": dst shares memory with src");
                }
                Backend.reorder(src, dst);
                return dst;
            } finally {
                dst.release();
            }
        } finally {
            src.release();
        }
    }

    /** True for NCHW16C with C not a multiple of 16: memory holds channels that are not elements. */
    private boolean padded() {
        return layout == Layout.NCHW16C && shape[1] % Layout.BLOCK != 0;
    }

    /** The shape, and the layout when it is not NCHW, for messages: {@code [1, 3, 8, 8] NHWC}. */
    private String describe() {
        return Arrays.toString(shape) + (layout == Layout.NCHW ? "" : " " + layout);
    }

    private void checkLength(float[] a, String name) {
        if (a == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
        if (a.length != storage) {
            throw new IllegalArgumentException(name + " has " + a.length + " elements but the tensor of shape "
                    + describe() + " has " + storage + (storage == size ? "" : " in memory (" + size + " elements and the"
                    + " padding channels of " + layout + ")"));
        }
    }

    /**
     * The native memory of this tensor, as a new pointer at its first element with its limit at its
     * {@linkplain #storageSize() storage size}. The pointer borrows the memory (see {@link TensorPointer}): closing it, or changing its
     * position or limit, does not affect the tensor, and it keeps the tensor reachable. It must not be
     * dereferenced after the tensor is closed; {@link #wrap(FloatPointer, int...)} of it then throws.
     * {@linkplain #acquire() Acquire} the tensor around direct use if another thread might close it.
     *
     * @throws UnsupportedOperationException if the memory is a Java direct buffer (JavaCPP's native library is unavailable)
     */
    public FloatPointer pointer() {
        checkOpen();
        if (engineView == null) {
            throw new UnsupportedOperationException("this tensor is held in a Java direct buffer because JavaCPP's native"
                    + " library is unavailable (" + Backend.describe(Backend.javacppFailure()) + "); use buffer()");
        }
        Tensor root = root();
        // the pointer holds the root buffer of the memory, which keeps its registration (see Escapes)
        return new TensorPointer(this, address, storage, root == null ? null : root.escapeRoot());
    }

    /**
     * A new direct {@link FloatBuffer} over this tensor's memory, {@link #storageSize()} floats in its
     * layout's order (index 0 is the first);
     * its position and limit are the caller's to change. It must not be used after the tensor is
     * closed; {@link #wrap(FloatBuffer, int...)} of it (or of a slice or duplicate of it) then throws.
     *
     * @throws UnsupportedOperationException if the tensor occupies more than {@link #MAX_BUFFER_ELEMENTS} floats
     */
    public FloatBuffer buffer() {
        checkOpen();
        if (storage > MAX_BUFFER_ELEMENTS) {
            throw new UnsupportedOperationException("a tensor of " + storage + " floats does not fit a Java buffer, which"
                    + " holds at most " + MAX_BUFFER_ELEMENTS + " floats (2 GiB); use pointer(), or view() a part");
        }
        Tensor root = root();
        FloatBuffer b;
        if (root == null) {
            // foreign memory: its owner's buffer (for a wrapped buffer, the same memory the caller already has)
            b = direct != null ? direct.duplicate() : new TensorPointer(null, address, storage, null).asBuffer();
        } else {
            b = bytesAt(address, 0, 4L * storage).asFloatBuffer();
        }
        if (!javacpp()) {
            DirectMemory.alias(b, address); // where addresses are stand-ins, wrap(b) finds this memory by the object
        }
        return b;
    }

    /**
     * A byte buffer over bytes [0, to) from {@code at}, positioned at {@code from}, cut from the one
     * root buffer of the owning tensor's memory (see {@link Escapes}), or for foreign memory a new
     * buffer over it.
     */
    ByteBuffer bytesAt(long at, long from, long to) {
        checkOpen();
        if (at < address || at + to > address + 4L * storage || address == 0 && direct == null) {
            throw new IllegalArgumentException("bytes [" + (at - address) + ", " + (at - address + to)
                    + ") lie outside the " + 4L * storage + " bytes of tensor " + describe());
        }
        Tensor root = root();
        ByteBuffer b;
        if (root == null) {
            b = new TensorPointer(null, at, to / 4, null).asByteBuffer();
        } else {
            ByteBuffer r = root.escapeRoot();
            long off = at - root.address;
            if (off + to > r.capacity()) {
                throw new UnsupportedOperationException("a buffer reaches at most " + Integer.MAX_VALUE
                        + " bytes into a tensor's memory; use view() for the rest");
            }
            b = r.duplicate().position((int) off).limit((int) (off + to)).slice();
        }
        return b.order(ByteOrder.nativeOrder()).position((int) from);
    }

    /**
     * The root buffer every handed-out buffer and pointer of this owned tensor's memory derives from
     * or holds, registered with {@link Escapes} on first use.
     */
    private synchronized ByteBuffer escapeRoot() {
        checkOpen();
        ByteBuffer r = escape == null ? null : escape.root();
        if (r == null) {
            // the buffers handed out must hold r itself, not a buffer r was derived from
            r = block != null ? block.buffer : new TensorPointer(null, address, Math.min(storage, MAX_BUFFER_ELEMENTS), null).asByteBuffer();
            escape = Escapes.register(this, block == null, address, address + 4L * storage, r);
        }
        return r;
    }

    /** The engines' own buffer: not handed out, so its position and limit stay as the engines expect. */
    private FloatBuffer engineBuffer() {
        if (direct != null) {
            return direct;
        }
        FloatBuffer b = engineBuffer;
        if (b == null) {
            b = new TensorPointer(null, address, storage, null).asBuffer(); // a benign race: equivalent buffers
            engineBuffer = b;
        }
        return b;
    }

    /** The owned tensor whose memory this is (itself, or the one it views), or null for foreign memory. */
    private Tensor root() {
        return base != null ? base : owned != null || block != null ? this : null;
    }

    long address() {
        return address;
    }

    /** The floats of memory the tensor covers (its storage, padding included). */
    int elements() {
        return storage;
    }

    /** True when this tensor and {@code other} share at least one byte of memory. */
    public boolean overlaps(Tensor other) {
        checkOpen();
        if (other == null) {
            throw new IllegalArgumentException("other must not be null");
        }
        other.checkOpen();
        if (other == this) {
            return true;
        }
        if (address != 0 && other.address != 0) {
            long a0 = address, a1 = a0 + 4L * storage;
            long b0 = other.address, b1 = b0 + 4L * other.storage;
            return a0 < b1 && b0 < a1;
        }
        // addresses unknown (never in practice: DirectMemory ran out of stand-ins): only distinct owned blocks are known apart
        Tensor r = base != null ? base : this, q = other.base != null ? other.base : other;
        return !(r != q && r.block != null && q.block != null);
    }

    /** True once {@link #close()} has succeeded. */
    public boolean isClosed() {
        return (int) USERS.getVolatile(this) == CLOSED;
    }

    /**
     * Throws {@link IllegalStateException} if this tensor was closed, is a view of a tensor that was
     * closed, or is a view of a JavaCPP allocation that was freed.
     */
    public void checkOpen() {
        if ((int) USERS.getVolatile(this) == CLOSED) {
            throw closed();
        }
        if (base != null && base.isClosed()) {
            throw baseClosed();
        }
        if (foreignRoot != null && foreignRoot.isNull() || foreignLifetime != null && !DirectMemory.alive(foreignLifetime)) {
            throw freed();
        }
    }

    /**
     * Marks this tensor as in use until the matching {@link #release()}: while it is, {@link #close()}
     * throws instead of freeing the memory (for a view, of the tensor it views too). Engines acquire every
     * tensor of a call for its duration; call it yourself around direct use of {@link #pointer()} or
     * {@link #buffer()} when another thread might close the tensor. Acquisitions nest and may come from any
     * number of threads.
     *
     * @throws IllegalStateException if the tensor is closed, is a view of a closed tensor, or is a view
     *                               of a JavaCPP allocation that has since been freed
     */
    public void acquire() {
        for (;;) {
            int u = (int) USERS.getVolatile(this);
            if (u == CLOSED) {
                throw closed();
            }
            if (u == Integer.MAX_VALUE) {
                throw new IllegalStateException("tensor " + Arrays.toString(shape) + " is acquired " + u + " times, the most allowed");
            }
            if (USERS.compareAndSet(this, u, u + 1)) {
                break;
            }
        }
        if (base != null) {
            try {
                base.acquire();
            } catch (IllegalStateException e) {
                releaseOwn();
                throw baseClosed();
            }
        }
        if (foreignRoot != null && foreignRoot.isNull() || foreignLifetime != null && !DirectMemory.alive(foreignLifetime)) {
            releaseOwn();
            throw freed();
        }
    }

    /** Ends one {@link #acquire()}. */
    public void release() {
        releaseOwn();
        if (base != null) {
            base.release();
        }
    }

    private void releaseOwn() {
        for (;;) {
            int u = (int) USERS.getVolatile(this);
            if (u <= 0) {
                throw new IllegalStateException("release() of tensor " + Arrays.toString(shape) + " without a matching acquire()");
            }
            if (USERS.compareAndSet(this, u, u - 1)) {
                return;
            }
        }
    }

    /**
     * Releases owned memory now; a view only detaches. Idempotent.
     *
     * @throws IllegalStateException if the tensor is in use (acquired, for example by an engine call
     *                               running on another thread); the tensor then stays open and usable
     */
    @Override
    public void close() {
        for (;;) {
            int u = (int) USERS.getVolatile(this);
            if (u == CLOSED) {
                return;
            }
            if (u > 0) {
                throw new IllegalStateException("tensor " + Arrays.toString(shape) + " is in use by " + u
                        + " call(s) and cannot be closed now; close it after they return");
            }
            if (USERS.compareAndSet(this, 0, CLOSED)) {
                break;
            }
        }
        engineBuffer = null;
        Escapes.Entry e;
        synchronized (this) {
            e = escape;
        }
        if (owned != null) {
            if (e != null) {
                Escapes.closed(e, () -> Backend.free(owned)); // now, or once no buffer or pointer of it is reachable
            } else {
                Backend.free(owned);
            }
        } else if (block != null) {
            if (e == null || DirectMemory.freedBuffersThrow()) {
                if (e != null) {
                    Escapes.forget(e); // its buffers throw once the block is freed
                }
                block.free();
            } else {
                Escapes.closed(e, () -> { }); // its buffers hold the memory: the garbage collector frees it with them
            }
        }
    }

    private IllegalStateException closed() {
        return new IllegalStateException("tensor of shape " + Arrays.toString(shape) + " is closed");
    }

    private IllegalStateException baseClosed() {
        return new IllegalStateException("tensor of shape " + Arrays.toString(shape) + " is a view of a tensor of shape "
                + Arrays.toString(base.shape) + " that has been closed");
    }

    private IllegalStateException freed() {
        return new IllegalStateException("tensor " + Arrays.toString(shape) + " is a view of "
                + (foreignRoot != null ? "a FloatPointer whose memory has been deallocated"
                : "a buffer whose memory has been freed (for a memory segment's: its arena was closed)"));
    }

    @Override
    public String toString() {
        return "Tensor" + describe() + (isClosed() ? " (closed)" : "");
    }
}
