;;; kmap-mode-tests.el --- ERT tests of kmap-mode  -*- lexical-binding: t; -*-

;; Copyright (c) 2026 The kmap-scenarios authors
;; SPDX-License-Identifier: MIT

;;; Commentary:

;; emacs --batch -Q -L editors/emacs -l editors/emacs/test/kmap-mode-tests.el \
;;       -f ert-run-tests-batch-and-exit
;; (tests/test_emacs.py runs it).

;;; Code:

(require 'ert)
(require 'kmap-mode)

(defvar eglot-server-programs nil)   ; eglot's, when it is loaded

(defconst kmap-test-scenario "scenario \"faces\";
config { ARCH = arm; CONFIG_HIGHMEM = y; NR_CPUS = 2; }
page P = alloc_page(GFP_HIGHUSER);
int NR = NR_CPUS;

task writer on cpu1 {
    unsigned long mask = 1UL << 12;
    u8 *addr = kmap_local_page(P);   // map it
    addr[0] = 0x10ul;   /* CONFIG_HIGHMEM */
    kunmap_local(addr);
    schedule();
}
schedule writer;
expect never BUG || DATA_LOSS;
"
  "A scenario with a word of each class.")

(defmacro kmap-test-with-buffer (text &rest body)
  "Run BODY in a `kmap-mode' buffer holding TEXT, fontified."
  (declare (indent 1))
  `(with-temp-buffer
     (insert ,text)
     (kmap-mode)
     (font-lock-ensure)
     (goto-char (point-min))
     ,@body))

(defun kmap-test-face (word &optional nth)
  "The face of every character of the NTH (0-based) whole-symbol WORD."
  (save-excursion
    (goto-char (point-min))
    (dotimes (_ (1+ (or nth 0)))
      (re-search-forward (concat "\\_<" (regexp-quote word) "\\_>")))
    (let ((faces (delete-dups
                  (mapcar (lambda (pos) (get-text-property pos 'face))
                          (number-sequence (match-beginning 0) (1- (match-end 0)))))))
      (if (cdr faces) faces (car faces)))))

(ert-deftest kmap-mode-opens-kmap-files ()
  (should (eq (assoc-default "/tmp/x/first_slot.kmap" auto-mode-alist #'string-match)
              'kmap-mode))
  (let ((file (make-temp-file "kmap-test" nil ".kmap" "task t { }\n")))
    (unwind-protect
        (with-current-buffer (find-file-noselect file)
          (unwind-protect (should (eq major-mode 'kmap-mode))
            (kill-buffer)))
      (delete-file file))))

(ert-deftest kmap-mode-colours-each-word-class ()
  (kmap-test-with-buffer kmap-test-scenario
    (should (eq (kmap-test-face "scenario") 'font-lock-keyword-face))
    (should (eq (kmap-test-face "task") 'font-lock-keyword-face))
    (should (eq (kmap-test-face "writer") 'font-lock-function-name-face))
    (should (eq (kmap-test-face "cpu1") 'font-lock-constant-face))
    (should (eq (kmap-test-face "unsigned") 'font-lock-type-face))
    (should (eq (kmap-test-face "long") 'font-lock-type-face))
    (should (eq (kmap-test-face "u8") 'font-lock-type-face))
    (should (eq (kmap-test-face "kmap_local_page") 'font-lock-builtin-face))
    (should (eq (kmap-test-face "alloc_page") 'font-lock-builtin-face))
    (should (eq (kmap-test-face "GFP_HIGHUSER") 'font-lock-constant-face))
    (should (eq (kmap-test-face "never") 'font-lock-keyword-face))
    (should (eq (kmap-test-face "BUG") 'font-lock-warning-face))
    (should (eq (kmap-test-face "DATA_LOSS") 'font-lock-warning-face))
    (should (eq (kmap-test-face "addr") nil))))

(ert-deftest kmap-mode-colours-numbers-with-suffixes ()
  (kmap-test-with-buffer kmap-test-scenario
    (should (eq (kmap-test-face "1UL") 'kmap-number-face))
    (should (eq (kmap-test-face "12") 'kmap-number-face))
    (should (eq (kmap-test-face "0x10ul") 'kmap-number-face))
    (should (eq (kmap-test-face "2") 'kmap-number-face))))

(ert-deftest kmap-mode-colours-config-words-only-in-config ()
  (kmap-test-with-buffer kmap-test-scenario
    (should (eq (kmap-test-face "ARCH") 'font-lock-preprocessor-face))
    (should (eq (kmap-test-face "arm") 'font-lock-constant-face))
    (should (eq (kmap-test-face "CONFIG_HIGHMEM") 'font-lock-preprocessor-face))
    (should (eq (kmap-test-face "y") 'font-lock-constant-face))
    ;; a config key is also an integer config value, coloured as a constant outside
    (should (eq (kmap-test-face "NR_CPUS") 'font-lock-preprocessor-face))
    (should (eq (kmap-test-face "NR_CPUS" 1) 'font-lock-constant-face))
    ;; the word in a comment is a comment
    (should (eq (kmap-test-face "CONFIG_HIGHMEM" 1) 'font-lock-comment-face))))

(ert-deftest kmap-mode-schedule-is-a-call-before-a-paren ()
  (kmap-test-with-buffer kmap-test-scenario
    (should (eq (kmap-test-face "schedule") 'font-lock-builtin-face))
    (should (eq (kmap-test-face "schedule" 1) 'font-lock-keyword-face))))

(ert-deftest kmap-mode-has-c-comments-and-strings ()
  (kmap-test-with-buffer kmap-test-scenario
    (should (eq (kmap-test-face "map") 'font-lock-comment-face))
    (should (equal (kmap-test-face "faces") 'font-lock-string-face))
    (search-forward "// map")
    (should (nth 4 (syntax-ppss)))
    (should (equal comment-start "// "))
    (let ((start (point-min)))
      (goto-char start)
      (comment-region (line-beginning-position) (line-end-position))
      (should (string-prefix-p "// scenario" (buffer-substring start (line-end-position)))))))

(ert-deftest kmap-mode-indents-like-c ()
  (kmap-test-with-buffer "task t on cpu0 {
int x = 0;
if (x) {
x = min(1,
2);
}
switch (x) {
case 1:
x++;
break;
default:
break;
}
}
"
    (indent-region (point-min) (point-max))
    (should (equal (buffer-string) "task t on cpu0 {
    int x = 0;
    if (x) {
        x = min(1,
                2);
    }
    switch (x) {
    case 1:
        x++;
        break;
    default:
        break;
    }
}
"))))

(ert-deftest kmap-mode-indent-offset-is-a-setting ()
  (kmap-test-with-buffer "task t {\nint x;\n}\n"
    (setq-local kmap-indent-offset 8)
    (indent-region (point-min) (point-max))
    (should (equal (buffer-string) "task t {\n        int x;\n}\n"))))

(ert-deftest kmap-mode-registers-kmap-lsp-with-eglot ()
  (let ((eglot-server-programs nil))
    (unwind-protect
        (progn
          (provide 'eglot)   ; runs kmap-mode's with-eval-after-load
          (should (equal (assq 'kmap-mode eglot-server-programs)
                         '(kmap-mode "kmap" "lsp"))))
      (setq features (delq 'eglot features)))))

(ert-deftest kmap-mode-vocabulary-has-every-builtin ()
  (dolist (word '("kmap" "kunmap" "kmap_atomic" "kmap_local_page" "memcpy_to_page"
                  "spin_lock_irqsave" "copy_from_user" "WARN_ON_ONCE"))
    (should (member word kmap-builtins))))

(provide 'kmap-mode-tests)

;;; kmap-mode-tests.el ends here
