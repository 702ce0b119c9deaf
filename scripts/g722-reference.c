/* Encodes or decodes stdin with spandsp's G.722 (64 kbit/s, 16-bit PCM at 16 kHz): the reference
 * that crates/media's G.722 is compared with. Built and run by scripts/g722-reference.sh. */
#include <spandsp.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    static uint8_t in[1 << 22];
    static int16_t pcm[1 << 22];
    static uint8_t code[1 << 22];
    size_t n = fread(in, 1, sizeof in, stdin);
    if (argc > 1 && strcmp(argv[1], "encode") == 0) {
        g722_encode_state_t *s = g722_encode_init(NULL, 64000, 0);
        int len = g722_encode(s, code, (const int16_t *) in, (int) (n / 2));
        fwrite(code, 1, (size_t) len, stdout);
    } else {
        g722_decode_state_t *s = g722_decode_init(NULL, 64000, 0);
        int len = g722_decode(s, pcm, in, (int) n);
        fwrite(pcm, 2, (size_t) len, stdout);
    }
    return 0;
}
