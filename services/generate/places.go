package generate

// Syllables of community and section names: Mende, Temne and Limba sounds,
// so that generated names read like places without naming real villages.
var (
	namePrefixes = []string{"Kpa", "Ma", "Ba", "Se", "Go", "Nja", "Ka", "Bu", "Jo", "Lu", "Ye", "Ngo", "Ko", "Ta", "Mo", "Fa", "Ro", "Lo", "Gba", "Ha", "Tei", "Ma", "Po", "Sa", "Wo", "Ge", "Ndo", "Kon", "Mba", "Rok"}
	nameMiddles  = []string{"", "", "nde", "la", "ma", "ke", "go", "si", "ye", "ba", "ti", "wu", "ra"}
	nameSuffixes = []string{"hun", "ma", "la", "bu", "ndu", "ya", "wo", "ti", "gbe", "ru", "ka", "lo", "ba", "ni", "mei", "kor", "bana", "sor"}
)
