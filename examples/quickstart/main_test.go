package main

// Example_main runs the quickstart and checks what it prints.
func Example_main() {
	main()
	// Output:
	// Fido [roll over] version 1
	// stale save refused: true
	// Fido [roll over sit] version 2
}
